package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
)

// FieldOwner is the field manager of every write the controller makes: the
// derived ConfigMaps (server-side apply) and the IngresseEvent status. It is
// also the name the controller records Kubernetes Events under.
const FieldOwner = "ingresse-controller"

// IngresseEventReconciler reconciles each IngresseEvent into a ConfigMap of
// the same name and status conditions that stay true as the spec changes,
// as someone edits or deletes the ConfigMap, and as sessions start.
type IngresseEventReconciler struct {
	// Client reads through the manager's cache and writes to the API server.
	Client client.Client
	// Scheme names the IngresseEvent kind in the ConfigMap's owner reference.
	Scheme *runtime.Scheme
	// Recorder records Kubernetes Events on the IngresseEvent: failures and
	// notable condition changes. Nil records none.
	Recorder recorder.EventRecorder
	// Clock tells the time sessions are compared with; nil is the real
	// clock. Tests pass a fake one to cross a session's start.
	Clock clock.PassiveClock
	// MaxConfigMapDataBytes is the budget for a ConfigMap's data (keys plus
	// values); 0 means DefaultMaxConfigMapDataBytes. Larger content loses
	// its largest droppable keys, as the ContentComplete condition says.
	MaxConfigMapDataBytes int
	// Watched holds the whole objects the watch decoded of the events not
	// reconciled yet (its Transform must be the IngresseEvent cache's), so
	// that a reconcile reads no spec the watch already brought. Nil reads
	// every spec from the API server.
	Watched *eventcache.Watched

	// apiReader reads from the API server, bypassing the cache. Set by
	// SetupWithManager; nil trusts the cache alone.
	apiReader client.Reader
	// selfWrites lets the watches skip the events of our own writes.
	selfWrites selfWrites
	// conflicts counts the write conflicts each event met in a row.
	conflicts conflictStreaks
	// startup tracks the first reconcile of every event stored at start;
	// nil when the reconciler runs without a manager.
	startup *startup
}

// Options tunes the controller.
type Options struct {
	// MaxConcurrentReconciles is how many IngresseEvents are reconciled at
	// once; 0 means 1.
	MaxConcurrentReconciles int
	// CacheSyncTimeout bounds the wait for the IngresseEvent and ConfigMap
	// caches at start; 0 is controller-runtime's default (2 minutes), which
	// 100k stored events on a busy API server exceed.
	CacheSyncTimeout time.Duration
}

// The controller runs with a Role in the operator's namespace. It never
// updates or deletes a ConfigMap (server-side apply is a patch, and garbage
// collection deletes through the owner reference), and it writes status
// with patches only, never reading the status subresource.
// ingresseevents/finalizers is needed to set blockOwnerDeletion on the
// ConfigMap's owner reference. Leader election (client-go's LeaseLock)
// gets, creates and updates its Lease, releasing it with an update too, and
// neither lists, watches, patches nor deletes one. A create cannot be
// limited to a name; the other verbs are limited to the Lease named by the
// manager's default --leader-election-id: another ID needs its own rule.
//
// +kubebuilder:rbac:groups=events.ingresse.com,namespace=ingresse-system,resources=ingresseevents,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.ingresse.com,namespace=ingresse-system,resources=ingresseevents/status,verbs=patch
// +kubebuilder:rbac:groups=events.ingresse.com,namespace=ingresse-system,resources=ingresseevents/finalizers,verbs=update
// +kubebuilder:rbac:groups="",namespace=ingresse-system,resources=configmaps,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="";events.k8s.io,namespace=ingresse-system,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=ingresse-system,resources=leases,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=ingresse-system,resources=leases,resourceNames=ingresse-operator.events.ingresse.com,verbs=get;update

// Reconcile brings one IngresseEvent's ConfigMap and status in line with its
// spec and the time. It works from what is stored, whatever triggered it,
// and makes no write at all when everything already matches.
func (r *IngresseEventReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := r.reconcile(ctx, req)
	if err == nil && r.startup != nil {
		r.startup.reconciled(req.NamespacedName)
	}
	if r.selfWrites.takeMissed(req.NamespacedName) && err == nil {
		// Someone else changed the event or its ConfigMap while our write
		// was in flight, and its watch event was held back: look again.
		res.RequeueAfter = time.Millisecond
	}
	return res, err
}

func (r *IngresseEventReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ev, err := r.fetch(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if ev == nil {
		r.conflicts.forget(req.NamespacedName)
		return ctrl.Result{}, nil // gone or going: garbage collection removes the ConfigMap
	}

	now := r.now()
	cm := r.reconcileConfigMap(ctx, ev, now)
	if r.conflicts.tolerate(req.NamespacedName, cm) {
		return retryConflict(ctx, cm), nil
	}
	r.reportFailure(ev, cm)
	conds, next, requeueAfter := computeConditions(ev, cm, now)
	if err := r.patchStatus(ctx, ev, desiredStatus(ev, conds, next, cm)); err != nil {
		return ctrl.Result{}, err
	}

	if cm.state == configMapFailed && !cm.permanent {
		// controller-runtime retries with its rate-limited backoff.
		return ctrl.Result{}, cm.err
	}
	// Conflicts and invalid specs wait for a change, but sessions still
	// start on time, so the requeue for the next start stays.
	return ctrl.Result{RequeueAfter: requeueAfter}, nil
}

// fetch reads the IngresseEvent of key, with its spec, as stored; nil when
// it is gone or being deleted.
func (r *IngresseEventReconciler) fetch(ctx context.Context, key client.ObjectKey) (*eventsv1alpha1.IngresseEvent, error) {
	ev := &eventsv1alpha1.IngresseEvent{}
	if err := r.Client.Get(ctx, key, ev); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading IngresseEvent %s: %w", key, err)
	}
	if !ev.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	// A cache behind our own last status write would make us write the
	// same status again. Caught up first, so that the read of the spec
	// below asks for a state no older than that write, and the write's
	// own watch event is still recognised when it arrives.
	r.selfWrites.catchUp(ev)
	if !eventcache.Elided(ev) {
		return ev, nil
	}
	if whole := r.Watched.Get(ev); whole != nil {
		specReads.WithLabelValues(specFromWatch).Inc()
		return whole, nil
	}
	specReads.WithLabelValues(specFromAPIServer).Inc()
	return eventcache.WithSpec(ctx, r.apiReader, ev)
}

func (r *IngresseEventReconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}
