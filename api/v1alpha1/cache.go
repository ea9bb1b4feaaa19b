package v1alpha1

// The operator's informer cache keeps IngresseEvents without their spec
// (see webhookreceiver.IngresseEventCacheTransform): the spec is most of an
// event's size, and ten thousand cached specs would be most of the
// manager's memory. In its place the cached copy carries, in these
// annotations, what ordering a delivery against it needs. They exist only
// in the manager's memory and are never written to the API server.
const (
	// AnnotationCachedSpecDigest is the hex SHA-256 of the canonical JSON
	// of the spec the cached copy was stripped of.
	AnnotationCachedSpecDigest = "events.ingresse.com/cached-spec-digest"
	// AnnotationCachedUpdatedAt is that spec's updatedAt, as stored.
	AnnotationCachedUpdatedAt = "events.ingresse.com/cached-updated-at"
)

// SpecElided reports whether ev is a cached copy stripped of its spec.
// Whoever needs the spec reads the event from the API server. A stored
// IngresseEvent always has a positive spec.id, so an annotation set by
// hand on a stored one does not make it look stripped.
func (ev *IngresseEvent) SpecElided() bool {
	_, ok := ev.Annotations[AnnotationCachedSpecDigest]
	return ok && ev.Spec.ID == 0
}

// DropCacheAnnotations removes the cache-only annotations from ev, before
// it is written.
func (ev *IngresseEvent) DropCacheAnnotations() {
	delete(ev.Annotations, AnnotationCachedSpecDigest)
	delete(ev.Annotations, AnnotationCachedUpdatedAt)
}
