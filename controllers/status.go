package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// desiredStatus is the status an event should have given the computed
// conditions: ObservedGeneration stamped, a condition whose status did not
// change keeps its LastTransitionTime, and conditions of other types (the
// controller owns the whole status) are dropped.
func desiredStatus(ev *eventsv1alpha1.IngresseEvent, conds []metav1.Condition, next *eventsv1alpha1.SessionReference, cm configMapResult) eventsv1alpha1.IngresseEventStatus {
	st := eventsv1alpha1.IngresseEventStatus{
		ObservedGeneration: ev.Generation,
		NextSession:        next,
		Conditions:         make([]metav1.Condition, 0, len(conds)),
	}
	for _, c := range conds {
		if old := meta.FindStatusCondition(ev.Status.Conditions, c.Type); old != nil {
			st.Conditions = append(st.Conditions, *old.DeepCopy())
		}
		meta.SetStatusCondition(&st.Conditions, c)
	}
	// configMapRef describes the ConfigMap this event controls as it is,
	// so a workload can tell which content it holds even while Ready is
	// False; a conflicting ConfigMap is not ours to report.
	if cm.state != configMapConflict && cm.observedHash != "" {
		st.ConfigMapRef = &eventsv1alpha1.ConfigMapReference{Name: cm.name, ContentHash: cm.observedHash}
	}
	return st
}

// patchStatus writes st as the event's status with one merge patch on the
// status subresource, and only when it differs from what is stored. It
// records an Event for each notable condition change.
func (r *IngresseEventReconciler) patchStatus(ctx context.Context, ev *eventsv1alpha1.IngresseEvent, st eventsv1alpha1.IngresseEventStatus) error {
	if equality.Semantic.DeepEqual(ev.Status, st) {
		return nil
	}
	before := ev.DeepCopy()
	// The patch is computed from the statuses alone: the spec, most of an
	// event, takes no part in it and need not be encoded twice for it.
	patch, err := client.MergeFrom(&eventsv1alpha1.IngresseEvent{Status: before.Status}).Data(&eventsv1alpha1.IngresseEvent{Status: st})
	if err != nil {
		return fmt.Errorf("computing the status patch of IngresseEvent %s/%s: %w", ev.Namespace, ev.Name, err)
	}
	write := r.selfWrites.writing(false, client.ObjectKeyFromObject(ev))
	defer write.end(nil)
	// The API server answers with the event's metadata only: the whole
	// event would cost it an encoding and us a decoding, for a status we
	// already know.
	written := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: ev.Name, Namespace: ev.Namespace}}
	written.SetGroupVersionKind(eventsv1alpha1.GroupVersion.WithKind("IngresseEvent"))
	if err := r.Client.Status().Patch(ctx, written, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted meanwhile: nothing left to report on
		}
		return fmt.Errorf("patching the status of IngresseEvent %s/%s: %w", ev.Namespace, ev.Name, err)
	}
	ev.ObjectMeta = written.ObjectMeta
	ev.Status = st
	r.selfWrites.recordStatus(ev, before.ResourceVersion)
	write.end(ev)
	for _, e := range conditionEvents(before.Status.Conditions, st.Conditions) {
		r.event(ev, e.eventType, e.reason, actionReconcile, e.note)
	}
	return nil
}

// conditionEvent is a Kubernetes Event to record for a condition change.
type conditionEvent struct {
	eventType, reason, note string
}

// conditionEvents says which condition changes deserve an Event: a problem
// (Ready or ContentComplete False) when it appears or its reason or message
// changes, and any condition whose status changed. A first reconcile that
// finds nothing wrong records none, and an unchanged condition never
// records one again. ConfigMapApplyFailed is left out: reportFailure
// records an Event for every failed attempt it reports.
func conditionEvents(before, after []metav1.Condition) []conditionEvent {
	var out []conditionEvent
	for _, c := range after {
		old := meta.FindStatusCondition(before, c.Type)
		problem := c.Status == metav1.ConditionFalse &&
			(c.Type == eventsv1alpha1.ConditionReady || c.Type == eventsv1alpha1.ConditionContentComplete)
		note := fmt.Sprintf("%s is %s: %s", c.Type, c.Status, c.Message)
		switch {
		case problem && c.Reason == eventsv1alpha1.ReasonConfigMapApplyFailed:
		case problem:
			if old == nil || old.Status != c.Status || old.Reason != c.Reason || old.Message != c.Message {
				out = append(out, conditionEvent{corev1.EventTypeWarning, c.Reason, note})
			}
		case old != nil && old.Status != c.Status:
			out = append(out, conditionEvent{corev1.EventTypeNormal, c.Reason, note})
		}
	}
	return out
}
