package controllers

import (
	corev1 "k8s.io/api/core/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// Reasons and actions of the Kubernetes Events the controller records on an
// IngresseEvent. Condition changes are recorded under the condition's own
// reason (ConfigMapConflict, ContentTruncated, SaleDisabled, ...).
const (
	// reasonConfigMapApplied: a ConfigMap someone else had changed was set
	// back to the content derived from the spec. Creating it, and following
	// a spec change or a session starting, record no Event: they are the
	// expected course (see status.configMapRef), and an Event each would
	// double the API writes of every change.
	reasonConfigMapApplied = "ConfigMapApplied"

	actionApply     = "Apply"
	actionReconcile = "Reconcile"
)

// maxEventNote keeps a note under the 1 KiB the events.k8s.io API accepts.
const maxEventNote = 1000

// event records a Kubernetes Event on ev, if there is a recorder.
func (r *IngresseEventReconciler) event(ev *eventsv1alpha1.IngresseEvent, eventType, reason, action, note string) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(ev, nil, eventType, reason, action, "%s", shorten(note, maxEventNote))
}

// reportFailure records a Warning Event for a failed read or write of the
// ConfigMap, on every attempt that is reported (a write conflict only once
// it lasts: conflictStreaks). The condition it sets records none of its
// own (conditionEvents).
func (r *IngresseEventReconciler) reportFailure(ev *eventsv1alpha1.IngresseEvent, cm configMapResult) {
	if cm.state == configMapFailed {
		r.event(ev, corev1.EventTypeWarning, eventsv1alpha1.ReasonConfigMapApplyFailed, actionApply, errText(cm.err))
	}
}
