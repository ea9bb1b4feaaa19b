// Package eventcache owns how the controller caches IngresseEvents:
// without their spec, and with only a summary of their status.
//
// The spec is most of an event's size, and a hundred thousand cached specs
// would be most of the controller's memory. The informer's Transform strips
// each cached copy of its spec (and managedFields), and replaces its
// conditions with two cache-only annotations: their type, status and
// reason (Conditions), and a digest of the whole status (StatusChanged).
// Those annotations live in the manager's memory only; the controller
// writes events with patches that never carry them.
//
// The controller reconciles a spec it has not reconciled yet from the
// object its watch decoded (Watched keeps it until then), and reads the
// spec from the API server's watch cache otherwise (WithSpec). The
// receiver keeps no cache at all.
package eventcache

import (
	"context"
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
)

// The cache-only annotations. They exist only in the manager's memory and
// are never written to the API server.
const (
	// AnnotationStatusDigest is a short hash of the status the cached
	// copy keeps only a summary of. Its presence marks a cached copy.
	AnnotationStatusDigest = "events.ingresse.com/cached-status-digest"
	// AnnotationConditions is the type, status and reason of each of the
	// status's conditions (Conditions reads them).
	AnnotationConditions = "events.ingresse.com/cached-conditions"
)

// Transform is the cache transform for IngresseEvents
// (cache.Options.ByObject[&IngresseEvent{}].Transform). It strips the
// cached copy of its spec and managedFields, keeps of the status only what
// is read from the cache (see summariseStatus and Conditions), and interns
// the strings every event repeats. A cached event then costs about a tenth
// of its decoded size (the spec of Ingresse's example is about 4 KiB).
//
// It is idempotent.
func Transform(obj any) (any, error) {
	ev, ok := obj.(*eventsv1alpha1.IngresseEvent)
	if !ok {
		return obj, nil // e.g. a cache.DeletedFinalStateUnknown tombstone
	}
	ev.ManagedFields = nil
	if Elided(ev) {
		return ev, nil
	}
	annotations := make(map[string]string, len(ev.Annotations)+2)
	for k, v := range ev.Annotations {
		annotations[Intern(k)] = internValue(k, v)
	}
	annotations[AnnotationStatusDigest] = statusDigest(&ev.Status)
	annotations[AnnotationConditions] = conditionsSummary(ev.Status.Conditions)
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
	_, ok := ev.Annotations[AnnotationStatusDigest]
	return ok && ev.Spec.ID == 0
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
