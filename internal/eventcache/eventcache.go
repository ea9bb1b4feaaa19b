// Package eventcache owns how the manager caches IngresseEvents: without
// their spec.
//
// The spec is most of an event's size, and ten thousand cached specs would
// be most of the manager's memory. The informer's Transform strips each
// cached copy of its spec (and managedFields) and leaves, in two
// cache-only annotations, what ordering a delivery against it needs: the
// spec's Digest and its updatedAt. Those annotations live in the manager's
// memory only: Clean removes them before anything is written.
//
// The receiver orders a delivery against the cached copy (Cached) and
// writes a newer version against its resourceVersion without reading the
// spec; the controller reads the spec through (WithSpec), from the API
// server's watch cache.
package eventcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/jsoncanon"
)

// The cache-only annotations. They exist only in the manager's memory and
// are never written to the API server.
const (
	// AnnotationSpecDigest is the hex Digest of the spec the cached copy
	// was stripped of.
	AnnotationSpecDigest = "events.ingresse.com/cached-spec-digest"
	// AnnotationUpdatedAt is that spec's updatedAt, as stored ("" when it
	// had none).
	AnnotationUpdatedAt = "events.ingresse.com/cached-updated-at"
	// AnnotationStatusDigest is a short hash of the status the cached
	// copy keeps only a summary of.
	AnnotationStatusDigest = "events.ingresse.com/cached-status-digest"
	// AnnotationConditions is the type, status and reason of each of the
	// status's conditions (Conditions reads them).
	AnnotationConditions = "events.ingresse.com/cached-conditions"
)

// Transform is the cache transform for IngresseEvents
// (cache.Options.ByObject[&IngresseEvent{}].Transform) of a process that
// runs the controller. It strips the cached copy of its spec and
// managedFields, and leaves the spec's Digest and updatedAt in their place;
// it keeps of the status only what is read from the cache (see
// summariseStatus and Conditions), and interns the strings every event
// repeats. A cached
// event then costs about a tenth of its decoded size (the spec of
// Ingresse's example is about 4 KiB).
//
// It is idempotent. A spec that cannot be encoded is kept, with the whole
// status, so that the event is ordered and reconciled on itself.
func Transform(obj any) (any, error) {
	return transform(obj, true)
}

// TransformNoStatus is Transform for a process that never reads an
// event's status from its cache: the receiver on its own. It drops the
// status too.
func TransformNoStatus(obj any) (any, error) {
	return transform(obj, false)
}

func transform(obj any, keepConditions bool) (any, error) {
	ev, ok := obj.(*eventsv1alpha1.IngresseEvent)
	if !ok {
		return obj, nil // e.g. a cache.DeletedFinalStateUnknown tombstone
	}
	ev.ManagedFields = nil
	if Elided(ev) {
		return ev, nil
	}
	digest, err := Digest(&ev.Spec)
	if err != nil {
		return ev, nil //nolint:nilerr // kept whole: ordered on the spec itself
	}
	annotations := make(map[string]string, len(ev.Annotations)+4)
	for k, v := range ev.Annotations {
		annotations[Intern(k)] = internValue(k, v)
	}
	annotations[AnnotationSpecDigest] = hex.EncodeToString(digest[:])
	annotations[AnnotationUpdatedAt] = ""
	if ev.Spec.UpdatedAt != nil {
		annotations[AnnotationUpdatedAt] = *ev.Spec.UpdatedAt
	}
	annotations[AnnotationStatusDigest] = statusDigest(&ev.Status)
	if keepConditions {
		annotations[AnnotationConditions] = conditionsSummary(ev.Status.Conditions)
	}
	ev.Annotations = annotations
	ev.Labels = internLabels(ev.Labels)
	ev.Namespace = Intern(ev.Namespace)
	ev.Spec = eventsv1alpha1.IngresseEventSpec{}
	ev.Status = summariseStatus(&ev.Status)
	return ev, nil
}

// summariseStatus is what the cache keeps of a status: the observed
// generation and the next session (retention's pre-filter reads it).
// Messages, times and the ConfigMap reference are read from the API server
// with the spec (WithSpec); that the status changed at all is told by the
// AnnotationStatusDigest annotation (StatusChanged); each condition's type,
// status and reason are in the AnnotationConditions annotation
// (Conditions).
func summariseStatus(st *eventsv1alpha1.IngresseEventStatus) eventsv1alpha1.IngresseEventStatus {
	return eventsv1alpha1.IngresseEventStatus{ObservedGeneration: st.ObservedGeneration, NextSession: st.NextSession}
}

// conditionsSummary encodes each condition's type, status and reason as
// "Ready=True/Reconciled;SalesEnabled=False/SaleDisabled", interned: the
// events of a namespace share a handful of such strings, so the summary
// costs a cached event one annotation slot, where the conditions
// themselves cost hundreds of bytes.
func conditionsSummary(conds []metav1.Condition) string {
	var b strings.Builder
	for i, c := range conds {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(c.Type)
		b.WriteByte('=')
		b.WriteString(string(c.Status))
		b.WriteByte('/')
		b.WriteString(c.Reason)
	}
	return Intern(b.String())
}

// Conditions returns the conditions of ev, with only their type, status
// and reason when ev is a cached copy. memo, when not nil, holds the
// summaries already decoded, for a caller that walks every cached event.
func Conditions(ev *eventsv1alpha1.IngresseEvent, memo map[string][]metav1.Condition) []metav1.Condition {
	summary, ok := ev.Annotations[AnnotationConditions]
	if !ok || !Elided(ev) {
		return ev.Status.Conditions
	}
	if conds, ok := memo[summary]; ok {
		return conds
	}
	var conds []metav1.Condition
	for part := range strings.SplitSeq(summary, ";") {
		typ, rest, ok1 := strings.Cut(part, "=")
		status, reason, ok2 := strings.Cut(rest, "/")
		if ok1 && ok2 {
			conds = append(conds, metav1.Condition{Type: typ, Status: metav1.ConditionStatus(status), Reason: reason})
		}
	}
	if memo != nil {
		memo[summary] = conds
	}
	return conds
}

// statusDigest is a short hash of the whole status: enough to tell two
// versions of one event apart.
func statusDigest(st *eventsv1alpha1.IngresseEventStatus) string {
	b, err := json.Marshal(st)
	if err != nil {
		return "" // a status always encodes; "" then only ever equals itself
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return strconv.FormatUint(h.Sum64(), 36)
}

// StatusChanged reports whether the status of an event changed between two
// versions of it, either one a cached copy (whose status is only a
// summary) or not.
func StatusChanged(oldEv, newEv *eventsv1alpha1.IngresseEvent) bool {
	o, oldOK := oldEv.Annotations[AnnotationStatusDigest]
	n, newOK := newEv.Annotations[AnnotationStatusDigest]
	if Elided(oldEv) && Elided(newEv) && oldOK && newOK {
		return o != n
	}
	if Elided(oldEv) != Elided(newEv) {
		return true // not comparable: look again
	}
	return !equality.Semantic.DeepEqual(oldEv.Status, newEv.Status)
}

// Elided reports whether ev is a cached copy stripped of its spec. A
// stored IngresseEvent always has a positive spec.id, so an annotation set
// by hand on a stored one does not make it look stripped.
func Elided(ev *eventsv1alpha1.IngresseEvent) bool {
	_, ok := ev.Annotations[AnnotationSpecDigest]
	return ok && ev.Spec.ID == 0
}

// Cached returns the Digest and updatedAt that Transform left on a cached
// copy; ok is false when ev is not stripped of its spec, or its digest
// cannot be read (it then equals nothing).
func Cached(ev *eventsv1alpha1.IngresseEvent) (digest [sha256.Size]byte, updatedAt string, ok bool) {
	if !Elided(ev) {
		return digest, "", false
	}
	b, err := hex.DecodeString(ev.Annotations[AnnotationSpecDigest])
	if err != nil || len(b) != sha256.Size {
		return digest, ev.Annotations[AnnotationUpdatedAt], false
	}
	copy(digest[:], b)
	return digest, ev.Annotations[AnnotationUpdatedAt], true
}

// Clean removes the cache-only annotations from ev, before it is written.
func Clean(ev *eventsv1alpha1.IngresseEvent) {
	delete(ev.Annotations, AnnotationSpecDigest)
	delete(ev.Annotations, AnnotationUpdatedAt)
	delete(ev.Annotations, AnnotationStatusDigest)
	delete(ev.Annotations, AnnotationConditions)
}

// Digest is the SHA-256 of the spec's canonical JSON, in which two
// semantically equal specs encode to the same bytes: object members sorted,
// no insignificant white space, and numbers written the way the API server
// stores them (an integer that fits int64 as an integer, any other number
// as the shortest float64), so that 100000.0 as sent equals 100000 as read
// back.
func Digest(spec *eventsv1alpha1.IngresseEventSpec) ([sha256.Size]byte, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("encoding the spec: %w", err)
	}
	canonical, err := jsoncanon.Append(nil, b, jsoncanon.Options{EscapeHTML: true, NormaliseNumbers: true})
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("canonicalising the spec: %w", err)
	}
	return sha256.Sum256(canonical), nil
}

// WithSpec returns ev with its spec: ev itself when it has it, else the
// event read with reader (the manager's API reader) from the API server's
// watch cache, at a state no older than ev: a read that costs the API
// server no etcd round trip. It returns nil when the event is gone or
// being deleted.
func WithSpec(ctx context.Context, reader client.Reader, ev *eventsv1alpha1.IngresseEvent) (*eventsv1alpha1.IngresseEvent, error) {
	if !Elided(ev) {
		return ev, nil
	}
	key := client.ObjectKeyFromObject(ev)
	if reader == nil {
		return nil, fmt.Errorf("reading IngresseEvent %s: the cache has no spec and there is no API reader", key)
	}
	full := &eventsv1alpha1.IngresseEvent{}
	opts := &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: ev.ResourceVersion}}
	if err := reader.Get(ctx, key, full, opts); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading IngresseEvent %s: %w", key, err)
	}
	if !full.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	return full, nil
}
