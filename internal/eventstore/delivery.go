package eventstore

import (
	"fmt"
	"time"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// Delivery is one version of an Ingresse event to store: a valid
// event-create or event-update webhook, or a copy read from Ingresse's API.
type Delivery struct {
	// Webhook is the delivery's type; "" for a copy a resync sweep read.
	Webhook string
	// Source is eventsv1alpha1.SourceIngresseAPI for a copy read from
	// Ingresse's API (a sweep's, or a verified delivery's); "" (a
	// webhook's, unverified) otherwise.
	Source string
	// Timestamp is the envelope's timestamp, or when the API's copy was
	// read, in UTC.
	Timestamp time.Time
	// UpdatedAt is data.updatedAt, in UTC: the first ordering key.
	UpdatedAt time.Time
	Spec      eventsv1alpha1.IngresseEventSpec
}

// Name is the IngresseEvent the delivery is stored in.
func (d *Delivery) Name() string { return eventsv1alpha1.ResourceName(d.Spec.ID) }

// FromSource reports whether the delivery is a copy read from Ingresse's
// API.
func (d *Delivery) FromSource() bool { return d.Source == eventsv1alpha1.SourceIngresseAPI }

// sourceName is the value of the source annotation for the delivery.
func (d *Delivery) sourceName() string {
	if d.FromSource() {
		return eventsv1alpha1.SourceIngresseAPI
	}
	return eventsv1alpha1.SourceWebhook
}

// confirms reports whether storing d, whose spec equals the one stored in
// obj, still has something to say: that the source confirmed it, or that
// the event the last sweep missed exists.
func (d *Delivery) confirms(obj *eventsv1alpha1.IngresseEvent) bool {
	if !d.FromSource() {
		return false
	}
	_, absent := obj.Annotations[eventsv1alpha1.AnnotationAbsentSince]
	return absent || obj.Annotations[eventsv1alpha1.AnnotationSource] != eventsv1alpha1.SourceIngresseAPI
}

// describe names the delivery in an Event's note: where it came from, its
// timestamp and updatedAt. Nothing personal.
func (d *Delivery) describe() string {
	ts, updated := d.Timestamp.UTC().Format(time.RFC3339Nano), d.UpdatedAt.UTC().Format(time.RFC3339Nano)
	switch {
	case d.FromSource() && d.Webhook != "":
		return fmt.Sprintf("Ingresse's API copy read at %s for an %s delivery (updatedAt %s)", ts, d.Webhook, updated)
	case d.FromSource():
		return fmt.Sprintf("Ingresse's API copy read at %s by a resync sweep (updatedAt %s)", ts, updated)
	default:
		return fmt.Sprintf("%s delivered at %s (updatedAt %s)", d.Webhook, ts, updated)
	}
}
