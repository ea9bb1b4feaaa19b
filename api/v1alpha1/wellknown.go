package v1alpha1

import (
	"strconv"
)

// Labels and annotations that the webhook receiver and the controller put on
// the objects they write. They are API: workloads select and watch by them.
const (
	// LabelEventID carries the Ingresse event id (spec.id).
	LabelEventID = "events.ingresse.com/event-id"
	// LabelCompanyID carries the Ingresse company id (spec.companyId).
	LabelCompanyID = "events.ingresse.com/company-id"
	// LabelProducerID carries the Ingresse producer id (spec.producerId).
	LabelProducerID = "events.ingresse.com/producer-id"

	// AnnotationWebhook is the type of the last webhook stored
	// (event-create or event-update).
	AnnotationWebhook = "events.ingresse.com/webhook"
	// AnnotationWebhookTimestamp is the envelope timestamp of the last
	// webhook stored, normalised to RFC 3339 in UTC.
	AnnotationWebhookTimestamp = "events.ingresse.com/webhook-timestamp"
	// AnnotationReceivedAt is when the receiver got the last webhook stored,
	// RFC 3339 in UTC.
	AnnotationReceivedAt = "events.ingresse.com/received-at"
	// AnnotationContentHash is, on a derived ConfigMap, the SHA-256 of its
	// data: a pod template that copies it rolls when the content changes.
	AnnotationContentHash = "events.ingresse.com/content-hash"
)

// ResourceName is the name of the IngresseEvent (and of its ConfigMap) for
// the Ingresse event with the given id: event-<id>.
func ResourceName(eventID int64) string {
	return "event-" + strconv.FormatInt(eventID, 10)
}
