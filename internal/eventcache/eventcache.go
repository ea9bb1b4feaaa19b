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
	"maps"

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
)

// Transform is the cache transform for IngresseEvents
// (cache.Options.ByObject[&IngresseEvent{}].Transform). It strips the cached
// copy of its spec and managedFields, and leaves the spec's Digest and
// updatedAt in their place; metadata and status stay. A cached event then
// costs about a third of its decoded size (the spec of Ingresse's example
// is about 4 KiB).
//
// It is idempotent. A spec that cannot be encoded is kept, so that the
// event is ordered on the spec itself.
func Transform(obj any) (any, error) {
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
	annotations := make(map[string]string, len(ev.Annotations)+2)
	maps.Copy(annotations, ev.Annotations)
	annotations[AnnotationSpecDigest] = hex.EncodeToString(digest[:])
	annotations[AnnotationUpdatedAt] = ""
	if ev.Spec.UpdatedAt != nil {
		annotations[AnnotationUpdatedAt] = *ev.Spec.UpdatedAt
	}
	ev.Annotations = annotations
	ev.Spec = eventsv1alpha1.IngresseEventSpec{}
	return ev, nil
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
