package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// maxStoreAttempts bounds the read-compare-write rounds of one delivery.
// Each lost round means another writer stored a version in between, so a
// few rounds settle even a storm; the request deadline bounds them too.
const maxStoreAttempts = 10

// Reasons of the Kubernetes Events the receiver records on an
// IngresseEvent, all with the action EventAction.
const (
	EventAction          = "Receive"
	EventReasonCreated   = "Created"
	EventReasonUpdated   = "Updated"
	EventReasonStale     = "StaleDelivery"
	EventReasonConfirmed = "ConfirmedBySource"
	EventReasonRepaired  = "RepairedFutureVersion"
)

// DefaultMaxClockSkew is how far ahead of the writer's clock a version's
// data.updatedAt may be (see Writer.CheckClock).
const DefaultMaxClockSkew = 5 * time.Minute

// Writer stores versions of Ingresse events as IngresseEvents, in the order
// every replica agrees on (see ordering.go). The receiver stores each
// delivery with it; a resync sweep (internal/resync) stores each event it
// reads from Ingresse's API with it, so that a webhook and a sweep racing
// on one event end on the newest version, whichever comes first.
type Writer struct {
	client    EventWriter
	apiReader client.Reader
	namespace string
	recorder  recorder.EventRecorder
	// eventBudget bounds the Events recorded per second.
	eventBudget    *rate.Limiter
	writeConflicts prometheus.Counter
	eventsSkipped  prometheus.Counter
	// liveFirst makes the first read of each event a quorum read (see
	// ReadLiveFirst).
	liveFirst bool
	// maxClockSkew is how far ahead of now a version's updatedAt may be.
	maxClockSkew time.Duration
	now          func() time.Time
}

// WriterOptions configure a Writer.
type WriterOptions struct {
	// Namespace holds the IngresseEvents.
	Namespace string
	// EventsPerSecond bounds the Kubernetes Events recorded, with a burst
	// of ten seconds' worth; 0 records none.
	EventsPerSecond float64
	// MaxClockSkew is how far ahead of the writer's clock a version's
	// data.updatedAt may be; 0 means DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// WriteConflicts counts the writes that lost a race with another
	// writer and were retried; EventsSkipped the Kubernetes Events left out
	// past the budget. Nil: unregistered counters.
	WriteConflicts, EventsSkipped prometheus.Counter
	// Now is the writer's clock; nil means time.Now.
	Now func() time.Time
}

// EventWriter creates and updates IngresseEvents: the manager's
// eventclient, which asks the API server to answer with the event's
// metadata only (all the store reads of an answer), or any client.Client.
type EventWriter interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
	Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error
}

// NewWriter builds a Writer. c writes IngresseEvents; apiReader reads them
// from the API server (never through an informer). recorder may be nil
// (no Events).
func NewWriter(c EventWriter, apiReader client.Reader, rec recorder.EventRecorder, opts WriterOptions) *Writer {
	if opts.MaxClockSkew <= 0 {
		opts.MaxClockSkew = DefaultMaxClockSkew
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WriteConflicts == nil {
		opts.WriteConflicts = prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered_write_conflicts"})
	}
	if opts.EventsSkipped == nil {
		opts.EventsSkipped = prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered_events_skipped"})
	}
	return &Writer{
		client: c, apiReader: apiReader, namespace: opts.Namespace, recorder: rec,
		maxClockSkew: opts.MaxClockSkew, now: opts.Now,
		eventBudget:    rate.NewLimiter(rate.Limit(opts.EventsPerSecond), int(math.Ceil(10*opts.EventsPerSecond))),
		writeConflicts: opts.WriteConflicts, eventsSkipped: opts.EventsSkipped,
	}
}

// ReadLiveFirst makes w read each event with a quorum read first, instead
// of from the API server's watch cache, and returns w. It suits a writer
// that mostly meets versions already stored, as a resync sweep does: an
// unchanged version needs a quorum read anyway, so one read instead of
// two.
func (w *Writer) ReadLiveFirst() *Writer {
	w.liveFirst = true
	return w
}

// Outcomes of storing a version, as Store and StoreFromAPI return them
// (the receiver's answers and metrics use the same words).
const (
	OutcomeCreated   = "created"
	OutcomeUpdated   = "updated"
	OutcomeUnchanged = "unchanged" // the same spec is stored: nothing written
	OutcomeStale     = "stale"     // a newer version is stored: nothing written
	// OutcomeConfirmed: the stored spec already equalled the API's copy;
	// only the annotations saying so were written.
	OutcomeConfirmed = "confirmed"
	// OutcomeRepaired: the stored version was dated beyond the clock skew
	// (see Writer.CheckClock) and was replaced.
	OutcomeRepaired = "repaired"
)

// FieldOwner is the field manager of every write of an event's version
// (the receiver's and the sweep's, which store alike).
const FieldOwner = "ingresse-webhook-receiver"

// Stored is what StoreFromAPI did with one event document.
type Stored struct {
	ID      int64
	Name    string
	Outcome string
}

// StoreFromAPI stores an event document read from Ingresse's API at readAt
// (the webhook's data shape) exactly as a delivery would be stored, marked
// as confirmed by the source. It returns an error wrapping ErrInvalidEvent
// for a document that cannot be stored, and the API server's error
// otherwise.
func (w *Writer) StoreFromAPI(ctx context.Context, doc json.RawMessage, readAt time.Time) (Stored, error) {
	d, err := APIDelivery(doc, readAt)
	if err != nil {
		return Stored{}, err
	}
	outcome, err := w.Store(ctx, d, readAt)
	if err != nil && RefusedAsItIs(err) && !errors.Is(err, ErrInvalidEvent) {
		// The API server (or the clock check) refuses this document as
		// it is: retrying will not store it.
		err = &InvalidError{msg: refusalMessage(err)}
	}
	return Stored{ID: d.Spec.ID, Name: d.Name(), Outcome: outcome}, err
}

// refusalMessage names why a document was refused as it is, without the
// API server's words (they may name the namespace or an admission
// webhook): the clock check's message, or the members the schema refused.
func refusalMessage(err error) string {
	if errors.Is(err, ErrAheadOfClock) {
		return err.Error()
	}
	return SchemaRefusal(err)
}

// SchemaRefusal says that the API server refused the event for its schema,
// naming the members it refused as the sender knows them, and nothing else
// of its message. The receiver answers it in its 422s.
func SchemaRefusal(err error) string {
	msg := "the event is invalid for the cluster's schema"
	if fields := RefusedMembers(err); len(fields) > 0 {
		msg += ": " + strings.Join(fields, ", ")
	}
	return msg
}

// APIDelivery makes a Delivery of an event document read from Ingresse's
// API at readAt: its timestamp is the time it was read. A document that
// cannot be stored is an *InvalidError.
func APIDelivery(doc json.RawMessage, readAt time.Time) (*Delivery, error) {
	spec, updatedAt, err := DecodeEventData(doc)
	if err != nil {
		return nil, err
	}
	return &Delivery{Source: eventsv1alpha1.SourceIngresseAPI, Timestamp: readAt.UTC(), UpdatedAt: updatedAt, Spec: spec}, nil
}

// WebhookEventCreate is the webhook type of a new event: Store creates it
// without reading first.
const WebhookEventCreate = "event-create"

// Store writes a delivery into its IngresseEvent unless an equal or newer
// version is stored, and says which happened. It returns without error only
// once the API server has accepted the write, or has confirmed that what it
// holds is equal or newer: a 2xx answer is a promise that the event is
// stored. An event being deleted (it has a deletionTimestamp, and waits on
// a finalizer) is about to go, with whatever is written into it: its
// deliveries are refused with ErrBeingDeleted until it is gone, and the
// first one after that creates it anew.
//
// An event-create webhook is created first, with no read at all: the
// burst case, a new event, costs its one write. Only an AlreadyExists
// leads to a read, a quorum one, since the event exists.
//
// Every other delivery starts with a read served by the API server's watch
// cache (resourceVersion "0"): no etcd round trip, and no informer in the
// receiver, whose memory then does not grow with the events stored. That
// read may lag, as an informer would: a new version is written against its
// resourceVersion, which the API server refuses if it is not the latest. A
// duplicate or stale delivery is confirmed with one quorum read before it
// is answered: the watch cache may not have seen a delete yet, and
// answering "unchanged" for a deleted event would lose it. A deletion seen
// in the watch cache is confirmed the same way: the event may be gone
// already, and the delivery can then create it.
//
// Reads are of metadata only: the stored version's ordering key is its
// AnnotationVersion, written with every version. An object stored without
// it (before it existed), or whose spec another writer changed since, is
// read whole, once.
//
// Writes are compare-and-swap on the resourceVersion, so replicas racing on
// one event never overwrite a newer version with an older one: the loser
// re-reads the live object and decides again.
func (s *Writer) Store(ctx context.Context, d *Delivery, receivedAt time.Time) (string, error) {
	if err := s.CheckClock(d); err != nil {
		return "", err
	}
	incoming, err := deliveryVersion(d)
	if err != nil {
		return "", invalid("data cannot be encoded: %s", err)
	}
	key := client.ObjectKey{Namespace: s.namespace, Name: d.Name()}
	var current *storedEvent
	maybeStale := !s.liveFirst
	if d.Webhook == WebhookEventCreate && !s.liveFirst {
		err = errCreateFirst
	} else {
		current, err = s.read(ctx, key, s.liveFirst)
	}
	for range maxStoreAttempts {
		if apierrors.IsNotFound(err) || errors.Is(err, errCreateFirst) {
			obj := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
			applyDelivery(obj, d, receivedAt, 1, incoming)
			err = s.client.Create(ctx, obj, client.FieldOwner(FieldOwner))
			if err == nil {
				s.recordEvent(obj, EventReasonCreated, "Stored %s", d)
				return OutcomeCreated, nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return "", fmt.Errorf("creating IngresseEvent %s: %w", key, err)
			}
			// Another writer (a replica, or a retry of this delivery)
			// created it, or it was there: an event-create's first
			// answer.
			current, err = s.read(ctx, key, true)
			maybeStale = false
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading IngresseEvent %s: %w", key, err)
		}
		obj := current.obj
		if !obj.DeletionTimestamp.IsZero() {
			if maybeStale {
				current, err = s.read(ctx, key, true)
				maybeStale = false
				continue
			}
			return "", fmt.Errorf("%w: IngresseEvent %s has a deletionTimestamp, finalizers %v", ErrBeingDeleted, key, obj.Finalizers)
		}

		verdict := compareVersions(incoming, current.version)
		if verdict == verdictUnchanged && d.confirms(obj) {
			// The same spec, now read from the source: say so once.
			verdict = verdictConfirm
		}
		if verdict == verdictUnchanged || verdict == verdictStale {
			if maybeStale {
				// The watch cache may lag: the object may have been
				// deleted or replaced. Confirm with a quorum read and
				// decide again on that.
				current, err = s.read(ctx, key, true)
				maybeStale = false
				continue
			}
			if verdict == verdictStale {
				s.recordEvent(obj, EventReasonStale, "Ignored a stale %s: a newer version is stored", d)
			}
			return verdict.String(), nil
		}

		// A confirmation leaves the spec as it was (it writes the same
		// one: the generation stays), and so the time it was received,
		// which retention reads. A newer spec moves the generation.
		generation := obj.Generation
		if verdict != verdictConfirm {
			generation++
		}
		received := obj.Annotations[eventsv1alpha1.AnnotationReceivedAt]
		applyDelivery(obj, d, receivedAt, generation, incoming)
		if verdict == verdictConfirm && received != "" {
			obj.Annotations[eventsv1alpha1.AnnotationReceivedAt] = received
		}
		err = s.client.Update(ctx, obj, client.FieldOwner(FieldOwner))
		switch {
		case err == nil:
			if verdict == verdictConfirm {
				s.recordEvent(obj, EventReasonConfirmed, "Ingresse's API confirmed the stored version: %s", d)
				return OutcomeConfirmed, nil
			}
			if current.version.aheadOfClock {
				s.recordEvent(obj, EventReasonRepaired, "Replaced a version dated beyond the clock skew with %s", d)
				return OutcomeRepaired, nil
			}
			s.recordEvent(obj, EventReasonUpdated, "Stored %s", d)
			return OutcomeUpdated, nil
		case apierrors.IsConflict(err):
			// Someone else wrote since the read: decide again on what
			// they wrote.
			s.writeConflicts.Inc()
			current, err = s.read(ctx, key, true)
			maybeStale = false
		case apierrors.IsNotFound(err):
			// Deleted since the read: create it again (err is the
			// NotFound that leads there).
		default:
			return "", fmt.Errorf("updating IngresseEvent %s: %w", key, err)
		}
	}
	return "", fmt.Errorf("storing IngresseEvent %s: still conflicting after %d attempts", key, maxStoreAttempts)
}

// errCreateFirst stands for the read an event-create does not make: Store
// creates the event straight away.
var errCreateFirst = errors.New("not read: created first")

// storedEvent is what a read found: the object to write the next version
// into (its metadata, without managedFields, so that an update leaves them
// to the API server, and without status, which only the controller
// writes) and the stored version.
type storedEvent struct {
	obj     *eventsv1alpha1.IngresseEvent
	version version
}

// read reads an IngresseEvent's metadata, from the watch cache or (live)
// with a quorum read, and its version from AnnotationVersion; when that
// cannot be trusted it reads the whole object, the same way, once.
func (s *Writer) read(ctx context.Context, key client.ObjectKey, live bool) (*storedEvent, error) {
	var opts []client.GetOption
	if !live {
		opts = append(opts, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "0"}})
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(eventsv1alpha1.GroupVersion.WithKind("IngresseEvent"))
	if err := s.apiReader.Get(ctx, key, meta, opts...); err != nil {
		return nil, err
	}
	if v, ok := metadataVersion(&meta.ObjectMeta, s.notAfter()); ok {
		obj := &eventsv1alpha1.IngresseEvent{ObjectMeta: meta.ObjectMeta}
		obj.ManagedFields = nil
		return &storedEvent{obj: obj, version: v}, nil
	}
	obj := &eventsv1alpha1.IngresseEvent{}
	if err := s.apiReader.Get(ctx, key, obj, opts...); err != nil {
		return nil, err
	}
	v := storedVersion(obj, s.notAfter())
	obj.ManagedFields, obj.Status = nil, eventsv1alpha1.IngresseEventStatus{}
	return &storedEvent{obj: obj, version: v}, nil
}

// CheckClock refuses a version whose updatedAt is beyond notAfter, with an
// error wrapping ErrAheadOfClock that names both times. A version a
// little ahead (Ingresse's clock and ours differ by a few seconds) is
// accepted; MaxClockSkew says how much.
func (s *Writer) CheckClock(d *Delivery) error {
	if limit := s.notAfter(); d.UpdatedAt.After(limit) {
		return fmt.Errorf("%w: data.updatedAt %s is more than %s ahead of the receiver's clock (%s)", ErrAheadOfClock,
			d.UpdatedAt.UTC().Format(time.RFC3339Nano), s.maxClockSkew, limit.Add(-s.maxClockSkew).UTC().Format(time.RFC3339))
	}
	return nil
}

// notAfter is the latest updatedAt a version may have now.
func (s *Writer) notAfter() time.Time { return s.now().Add(s.maxClockSkew) }

// CanRead reports whether IngresseEvents can be read from the API
// server's watch cache, the read every store starts with: nil, or the
// error. A receiver that cannot read is not ready.
func (s *Writer) CanRead(ctx context.Context) error {
	// No event has id 0: the answer is NotFound, and says the read works.
	_, err := s.read(ctx, client.ObjectKey{Namespace: s.namespace, Name: eventsv1alpha1.ResourceName(0)}, false)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// applyDelivery writes a delivery's spec and the receiver's labels and
// annotations into obj, keeping every other label and annotation. It never
// touches the status: only the controller writes that. The annotations
// describe the delivery whose spec is stored, never a later duplicate.
func applyDelivery(obj *eventsv1alpha1.IngresseEvent, d *Delivery, receivedAt time.Time, generation int64, v version) {
	obj.Spec = *d.Spec.DeepCopy()
	if obj.Labels == nil {
		obj.Labels = map[string]string{}
	}
	obj.Labels[eventsv1alpha1.LabelEventID] = strconv.FormatInt(d.Spec.ID, 10)
	setIDLabel(obj.Labels, eventsv1alpha1.LabelCompanyID, d.Spec.CompanyID)
	setIDLabel(obj.Labels, eventsv1alpha1.LabelProducerID, d.Spec.ProducerID)
	applyAnnotations(obj, d, receivedAt)
	obj.Annotations[eventsv1alpha1.AnnotationVersion] = formatVersionAnnotation(generation, v.updatedAt, v.digest)
}

// applyAnnotations writes the annotations about the stored version (where
// it came from, when, whether the source confirmed it).
func applyAnnotations(obj *eventsv1alpha1.IngresseEvent, d *Delivery, receivedAt time.Time) {
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	a := obj.Annotations
	if d.Webhook != "" {
		a[eventsv1alpha1.AnnotationWebhook] = d.Webhook
	} else {
		delete(a, eventsv1alpha1.AnnotationWebhook)
	}
	a[eventsv1alpha1.AnnotationWebhookTimestamp] = d.Timestamp.UTC().Format(time.RFC3339Nano)
	a[eventsv1alpha1.AnnotationReceivedAt] = receivedAt.UTC().Format(time.RFC3339Nano)
	a[eventsv1alpha1.AnnotationSource] = d.sourceName()
	if d.Source == eventsv1alpha1.SourceIngresseAPI {
		a[eventsv1alpha1.AnnotationConfirmedAt] = d.Timestamp.UTC().Format(time.RFC3339Nano)
	} else {
		delete(a, eventsv1alpha1.AnnotationConfirmedAt)
	}
	// Whoever stores the event has just seen it exist.
	delete(a, eventsv1alpha1.AnnotationAbsentSince)
}

// setIDLabel sets an id label to a positive id and removes it otherwise:
// when Ingresse sent the id as null, left it out or sent 0 (a label "0"
// would group events that have no real id). A positive int64 is always a
// valid label value.
func setIDLabel(labels map[string]string, key string, id *int64) {
	if id != nil && *id > 0 {
		labels[key] = strconv.FormatInt(*id, 10)
		return
	}
	delete(labels, key)
}

// recordEvent records a Kubernetes Event on the IngresseEvent, within the
// Event budget. The note names the delivery by source, type, timestamp and
// updatedAt (d.describe): nothing personal.
func (s *Writer) recordEvent(obj *eventsv1alpha1.IngresseEvent, reason, note string, d *Delivery) {
	if s.recorder == nil {
		return
	}
	if !s.eventBudget.Allow() {
		s.eventsSkipped.Inc()
		return
	}
	s.recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, EventAction, note, d.describe())
}
