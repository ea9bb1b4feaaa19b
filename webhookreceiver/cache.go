package webhookreceiver

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// IngresseEventCacheTransform is the cache transform for IngresseEvents
// (cache.Options.ByObject[&IngresseEvent{}].Transform). It strips the
// cached copy of its spec and managedFields, and leaves in their place the
// spec's digest and updatedAt (eventsv1alpha1.AnnotationCachedSpecDigest,
// AnnotationCachedUpdatedAt): all the receiver needs to order a delivery
// against it. Metadata and status stay. A cached event then costs about a
// third of its decoded size; the spec was about 4 KiB of Ingresse's example.
//
// Whoever needs the spec reads the event from the API server: the receiver
// writes a newer version against the cached resourceVersion without it, and
// reads the live object for anything else; the controller reads it from
// the API server's watch cache at the cached resourceVersion when it
// reconciles (see IngresseEvent.SpecElided).
//
// It is idempotent. A spec that cannot be encoded is kept, so that the
// event is ordered on the spec itself.
func IngresseEventCacheTransform(obj any) (any, error) {
	ev, ok := obj.(*eventsv1alpha1.IngresseEvent)
	if !ok {
		return obj, nil // e.g. a cache.DeletedFinalStateUnknown tombstone
	}
	ev.ManagedFields = nil
	if ev.SpecElided() {
		return ev, nil
	}
	if digest, err := specDigest(&ev.Spec); err == nil {
		elideSpec(ev, digest)
	}
	return ev, nil
}

// elideSpec replaces ev's spec with its digest and updatedAt (empty when
// the spec has none: it then counts as oldest, as the spec itself would).
func elideSpec(ev *eventsv1alpha1.IngresseEvent, digest [sha256.Size]byte) {
	annotations := make(map[string]string, len(ev.Annotations)+2)
	maps.Copy(annotations, ev.Annotations)
	annotations[eventsv1alpha1.AnnotationCachedSpecDigest] = hex.EncodeToString(digest[:])
	annotations[eventsv1alpha1.AnnotationCachedUpdatedAt] = ""
	if ev.Spec.UpdatedAt != nil {
		annotations[eventsv1alpha1.AnnotationCachedUpdatedAt] = *ev.Spec.UpdatedAt
	}
	ev.Annotations = annotations
	ev.Spec = eventsv1alpha1.IngresseEventSpec{}
}
