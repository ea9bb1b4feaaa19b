package eventcache

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// Watched keeps, for each event whose generation is ahead of its
// observedGeneration (the controller has not reconciled its spec yet), the
// whole object the watch decoded, so that the reconcile works from it
// instead of reading the spec again from the API server (WithSpec).
//
// It is bounded in count and in bytes: past either bound an event's spec
// is not kept and the reconcile reads it (the fallback, always correct).
// An entry goes when the watch shows the event converged, when it shows
// the event being deleted, and when Forget is told of its deletion; so
// once every event has converged, Watched is empty, and the cache of a
// hundred thousand converged events costs what it did without it.
//
// Its Transform replaces the package's Transform as the informer's
// transform. The zero value keeps nothing; use NewWatched.
type Watched struct {
	maxEvents int
	maxBytes  int64
	// paused keeps nothing new: while the informer lists what is stored
	// at the start, every event that waits for a reconcile would be kept
	// at once, up to the bounds, on top of the start's own peak.
	paused atomic.Bool

	mu    sync.Mutex
	m     map[types.UID]watchedEntry
	bytes int64
}

type watchedEntry struct {
	ev    *eventsv1alpha1.IngresseEvent
	bytes int64
}

// NewWatched keeps at most maxEvents objects and maxBytes of their
// estimated decoded size; either at 0 keeps nothing.
func NewWatched(maxEvents int, maxBytes int64) *Watched {
	return &Watched{maxEvents: maxEvents, maxBytes: maxBytes, m: map[types.UID]watchedEntry{}}
}

// Pause stops keeping new objects (what is kept stays) until Resume. The
// controller pauses it until its IngresseEvent informer has synced, so
// that the events listed at its start are read when reconciled, as
// without Watched, and only what the watch delivers afterwards is kept.
func (w *Watched) Pause() {
	if w != nil {
		w.paused.Store(true)
	}
}

// Resume keeps objects again.
func (w *Watched) Resume() {
	if w != nil {
		w.paused.Store(false)
	}
}

// Paused reports whether Watched keeps nothing new.
func (w *Watched) Paused() bool { return w != nil && w.paused.Load() }

// Transform keeps obj whole when it waits for a reconcile of its spec, then
// strips the cached copy as the package's Transform does.
func (w *Watched) Transform(obj any) (any, error) {
	if ev, ok := obj.(*eventsv1alpha1.IngresseEvent); ok && !Elided(ev) {
		w.observe(ev)
	}
	return Transform(obj)
}

// observe records the state ev, just decoded by the watch, before it is
// stripped: kept when it waits for a reconcile of its spec, dropped when
// it does not.
func (w *Watched) observe(ev *eventsv1alpha1.IngresseEvent) {
	if w == nil || w.maxEvents <= 0 || w.maxBytes <= 0 {
		return
	}
	pending := ev.Generation > ev.Status.ObservedGeneration && ev.DeletionTimestamp.IsZero()
	w.mu.Lock()
	defer w.mu.Unlock()
	old, had := w.m[ev.UID]
	if had {
		delete(w.m, ev.UID)
		w.bytes -= old.bytes
	}
	if !pending || w.paused.Load() {
		return
	}
	// A shallow copy: Transform replaces the cached copy's spec, status,
	// annotations and labels with new values and never writes into the
	// ones this copy points to.
	whole := *ev
	whole.ManagedFields = nil
	size := approxSize(reflect.ValueOf(&whole).Elem())
	if len(w.m) >= w.maxEvents || w.bytes+size > w.maxBytes {
		return
	}
	w.m[ev.UID] = watchedEntry{ev: &whole, bytes: size}
	w.bytes += size
}

// Get returns a copy of the whole object the watch decoded at exactly the
// state of ev (same UID and resourceVersion), or nil when it was not kept.
func (w *Watched) Get(ev *eventsv1alpha1.IngresseEvent) *eventsv1alpha1.IngresseEvent {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	e, ok := w.m[ev.UID]
	w.mu.Unlock()
	if !ok || e.ev.ResourceVersion != ev.ResourceVersion {
		return nil
	}
	return e.ev.DeepCopy()
}

// Forget drops what is kept of a deleted event.
func (w *Watched) Forget(uid types.UID) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.m[uid]; ok {
		delete(w.m, uid)
		w.bytes -= e.bytes
	}
}

// Len and Bytes are how many objects are kept and their estimated size.
func (w *Watched) Len() int {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m)
}

// Bytes is the estimated decoded size of the objects kept.
func (w *Watched) Bytes() int64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes
}

// approxSize estimates the memory v holds: its own size plus what its
// strings, slices, maps and pointers point to. It walks the value rather
// than a list of fields so that a field added to the API is counted too.
func approxSize(v reflect.Value) int64 {
	n := int64(v.Type().Size())
	return n + pointedSize(v)
}

var timeType = reflect.TypeFor[time.Time]()

// pointedSize is the memory v points to, outside its own size.
func pointedSize(v reflect.Value) int64 {
	switch v.Kind() {
	case reflect.String:
		return int64(v.Len())
	case reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return approxSize(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		n := int64(v.Len()) * int64(v.Type().Elem().Size())
		for i := range v.Len() {
			n += pointedSize(v.Index(i))
		}
		return n
	case reflect.Map:
		if v.IsNil() {
			return 0
		}
		n := int64(48) // the map's header
		it := v.MapRange()
		for it.Next() {
			n += approxSize(it.Key()) + approxSize(it.Value())
		}
		return n
	case reflect.Struct:
		if v.Type() == timeType {
			return 0 // its *Location is shared by every time
		}
		var n int64
		for i := range v.NumField() {
			n += pointedSize(v.Field(i))
		}
		return n
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		return approxSize(v.Elem())
	default:
		return 0
	}
}
