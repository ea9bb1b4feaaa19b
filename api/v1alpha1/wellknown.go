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
	// (event-create or event-update); absent when a resync sweep stored
	// the version.
	AnnotationWebhook = "events.ingresse.com/webhook"
	// AnnotationWebhookTimestamp is the timestamp of the stored version,
	// normalised to RFC 3339 in UTC: the envelope timestamp of the webhook
	// stored, or when Ingresse's API copy was read. It breaks ties between
	// versions with the same updatedAt.
	AnnotationWebhookTimestamp = "events.ingresse.com/webhook-timestamp"
	// AnnotationReceivedAt is when the version stored was received (a
	// webhook) or read (from Ingresse's API), RFC 3339 in UTC.
	AnnotationReceivedAt = "events.ingresse.com/received-at"
	// AnnotationSource says where the stored version came from:
	// SourceWebhook (a delivery, unverified) or SourceIngresseAPI (read
	// back from Ingresse's API by a resync sweep or a verified delivery).
	AnnotationSource = "events.ingresse.com/source"
	// AnnotationConfirmedAt is when Ingresse's API last confirmed the
	// stored version (RFC 3339, UTC): when that copy was read and stored,
	// or when a sweep first found the stored copy equal to the API's.
	// Absent while the stored version is only what a webhook said. Later
	// sweeps that find it unchanged do not rewrite it (that would be a
	// write per event per sweep): they are counted in the metric
	// ingresse_resync_last_complete_timestamp_seconds.
	AnnotationConfirmedAt = "events.ingresse.com/confirmed-at"
	// AnnotationAbsentSince is set by a resync sweep on an event that
	// Ingresse's listing did not return (RFC 3339, UTC); it is removed
	// when the event is seen or delivered again. Nothing is deleted.
	AnnotationAbsentSince = "events.ingresse.com/absent-from-source-since"
	// AnnotationVersion is the stored version's ordering key, written with
	// every version: "<generation>/<updatedAt>/<sha256 of the canonical
	// spec>", the generation the spec was stored at, its updatedAt in RFC
	// 3339 UTC (empty when unreadable) and its digest in hex. It lets the
	// receiver and the sweep order a delivery against what is stored from a
	// metadata-only read. It is trusted only while its generation is the
	// object's: a spec changed by any other writer moves the generation, and
	// the next store reads the spec itself.
	AnnotationVersion = "events.ingresse.com/version"
	// AnnotationContentHash is, on a derived ConfigMap, the SHA-256 of its
	// data: a pod template that copies it rolls when the content changes.
	AnnotationContentHash = "events.ingresse.com/content-hash"
)

// Values of AnnotationSource.
const (
	SourceWebhook     = "webhook"
	SourceIngresseAPI = "ingresse-api"
)

// ResourceName is the name of the IngresseEvent (and of its ConfigMap) for
// the Ingresse event with the given id: event-<id>.
func ResourceName(eventID int64) string {
	return "event-" + strconv.FormatInt(eventID, 10)
}
