package controllers

import (
	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// Reasons and actions of the Kubernetes Events the controller records on an
// IngresseEvent. Condition changes are recorded under the condition's own
// reason (ConfigMapConflict, ContentTruncated, SaleDisabled, ...).
const (
	// reasonConfigMapApplied: an existing ConfigMap was changed to match
	// the spec again, after a spec change, an edit by hand or a session
	// starting. Creating it records no Event.
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
