package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
)

// SetupWithManager registers the controller with mgr. Client, Scheme and
// Recorder default to the manager's when unset. The manager's cache must
// hold every ConfigMap of the namespace (not only the operator's), with
// ConfigMapCacheTransform as their transform: a foreign ConfigMap of an
// event's name must be seen to be left alone.
//
// Watches:
//   - IngresseEvents: created; updated with a new generation (spec), a
//     status that is not the controller's own last write (someone edited or
//     removed conditions), or a deletion timestamp; and periodic resyncs.
//     Updates that only touch labels, annotations other than the three
//     InSource reads (source, confirmed-at, absent-from-source-since), or
//     managedFields are skipped: nothing the controller derives reads them. Deletions are
//     skipped: garbage collection removes the ConfigMap.
//   - ConfigMaps: any change other than the controller's own last write,
//     including deletion, enqueues the IngresseEvent of the same name. That
//     covers the ConfigMaps the event owns (same name by construction: drift
//     is undone) and a foreign ConfigMap in the way (the conflict is
//     re-examined when it changes or disappears), which an owner-reference
//     mapping would miss.
func (r *IngresseEventReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.Scheme == nil {
		r.Scheme = mgr.GetScheme()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(FieldOwner)
	}
	r.apiReader = mgr.GetAPIReader()
	if err := r.addStartup(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("ingresseevent").
		For(&eventsv1alpha1.IngresseEvent{}, builder.WithPredicates(r.eventPredicate())).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(sameName), builder.WithPredicates(r.configMapPredicate())).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles, CacheSyncTimeout: opts.CacheSyncTimeout}).
		Complete(r)
}

// sameName maps a ConfigMap to the IngresseEvent whose ConfigMap it is or
// would be.
func sameName(_ context.Context, obj client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(obj)}}
}

// eventPredicate selects the IngresseEvent changes that can change what the
// controller derives (see SetupWithManager).
func (r *IngresseEventReconciler) eventPredicate() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if r.selfWrites.consume(e.ObjectNew) {
				return false
			}
			return eventUpdateMatters(e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(e event.DeleteEvent) bool {
			r.selfWrites.forget(e.Object.GetUID())
			r.Watched.Forget(e.Object.GetUID())
			r.conflicts.forget(client.ObjectKeyFromObject(e.Object))
			return false
		},
	}
}

// eventUpdateMatters reports whether an update of an IngresseEvent, not made
// by the controller, needs a reconcile.
func eventUpdateMatters(oldObj, newObj client.Object) bool {
	oldEv, okOld := oldObj.(*eventsv1alpha1.IngresseEvent)
	newEv, okNew := newObj.(*eventsv1alpha1.IngresseEvent)
	if !okOld || !okNew {
		return true
	}
	switch {
	case oldEv.ResourceVersion == newEv.ResourceVersion: // a resync: the safety net
		return true
	case oldEv.Generation != newEv.Generation:
		return true
	case !newEv.DeletionTimestamp.Equal(oldEv.DeletionTimestamp):
		return true
	case sourceAnnotationsChanged(oldEv, newEv): // InSource
		return true
	default:
		return eventcache.StatusChanged(oldEv, newEv)
	}
}

// sourceAnnotationsChanged reports whether the annotations InSource is
// computed from changed: a sweep confirms a version, or misses an event,
// without changing its spec.
func sourceAnnotationsChanged(oldEv, newEv *eventsv1alpha1.IngresseEvent) bool {
	for _, key := range []string{eventsv1alpha1.AnnotationSource, eventsv1alpha1.AnnotationConfirmedAt, eventsv1alpha1.AnnotationAbsentSince} {
		if oldEv.Annotations[key] != newEv.Annotations[key] {
			return true
		}
	}
	return false
}

// configMapPredicate skips the watch events of the controller's own
// ConfigMap writes.
func (r *IngresseEventReconciler) configMapPredicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return !r.selfWrites.consume(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool { return !r.selfWrites.consume(e.ObjectNew) },
		DeleteFunc: func(e event.DeleteEvent) bool {
			r.selfWrites.forget(e.Object.GetUID())
			return true
		},
	}
}
