package controllers

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// selfWrites remembers each of the controller's own writes, per object UID:
// the resourceVersion it was based on, the one it produced, and what it
// wrote. It serves two purposes:
//
//   - the watch event caused by that write does not trigger another
//     reconcile (consume): its outcome is already known. Any other change
//     (a person editing status or the ConfigMap) carries a different
//     resourceVersion and is reconciled. A watch event can arrive before
//     the write's own answer: while a write is in flight (writing), the
//     events of that object are held, and when the write returns, those
//     that were not its own mark the object for another look (missed);
//   - a reconcile that runs before the cache has caught up with that write
//     (another change can enqueue the object meanwhile) still knows what is
//     stored (staleStatus, staleContentHash), and does not write the same
//     thing again.
//
// An entry is kept per object at most, and dropped when its watch event
// arrives, when the cache shows any other version, or when the object is
// deleted.
type selfWrites struct {
	m sync.Map // types.UID -> *selfWrite
	// inFlight holds the writes under way, by object.
	inFlight sync.Map // writeKey -> *inFlightWrite
	// missed holds the events whose watch events were held back by a write
	// in flight and turned out not to be that write's.
	missed sync.Map // types.NamespacedName -> struct{}
}

// writeKey names an object the controller writes: an IngresseEvent or its
// ConfigMap, which share a name. A create's UID is not known before it
// returns, so writes in flight are known by name.
type writeKey struct {
	configMap bool
	types.NamespacedName
}

func writeKeyOf(obj client.Object) writeKey {
	_, isEvent := obj.(*eventsv1alpha1.IngresseEvent)
	return writeKey{configMap: !isEvent, NamespacedName: client.ObjectKeyFromObject(obj)}
}

// inFlightWrite is a write under way and the resourceVersions of the watch
// events held back meanwhile.
type inFlightWrite struct {
	mu   sync.Mutex
	done bool
	held []string
}

// writing notes that a write of the IngresseEvent (configMap false) or the
// ConfigMap named key is about to be made. The caller must call end on the
// result once the write returned and was recorded, with the object it
// wrote (nil when it failed); a second call does nothing, so a deferred
// end(nil) covers a write that never returns.
func (s *selfWrites) writing(configMap bool, key types.NamespacedName) *pendingWrite {
	p := &pendingWrite{s: s, key: writeKey{configMap: configMap, NamespacedName: key}, w: &inFlightWrite{}}
	s.inFlight.Store(p.key, p.w)
	return p
}

// pendingWrite is a write under way, from writing.
type pendingWrite struct {
	s   *selfWrites
	key writeKey
	w   *inFlightWrite
}

// end ends the write: the watch events held meanwhile that are not its
// own (or a step of it) mark the object as missed.
func (p *pendingWrite) end(written client.Object) {
	p.w.mu.Lock()
	if p.w.done {
		p.w.mu.Unlock()
		return
	}
	p.w.done = true
	held := p.w.held
	p.w.mu.Unlock()
	p.s.inFlight.CompareAndDelete(p.key, p.w)
	for _, rv := range held {
		if written != nil && p.s.ours(written.GetUID(), rv) {
			continue
		}
		p.s.missed.Store(p.key.NamespacedName, struct{}{})
	}
}

// ours reports whether resourceVersion rv of the object uid came from our
// last write to it. The event of its final version needs no other: the
// record is dropped.
func (s *selfWrites) ours(uid types.UID, rv string) bool {
	v, ok := s.m.Load(uid)
	if !ok {
		return false
	}
	w := v.(*selfWrite)
	switch {
	case w.to == rv:
		s.m.CompareAndDelete(uid, v)
		return true
	case slices.Contains(w.via, rv):
		return true
	}
	return false
}

// takeMissed reports, once, whether a change by someone else to the
// event or ConfigMap named key was held back while a write was in flight.
func (s *selfWrites) takeMissed(key types.NamespacedName) bool {
	_, ok := s.missed.LoadAndDelete(key)
	return ok
}

// selfWrite is one of the controller's writes.
type selfWrite struct {
	// from is the resourceVersion the write was computed from ("" for a
	// creation); to is the one it produced; via are the versions it went
	// through on the way (an apply followed by a patch).
	from, to string
	via      []string
	// status is what a status write wrote.
	status *eventsv1alpha1.IngresseEventStatus
	// contentHash is the content a ConfigMap write wrote.
	contentHash string
}

// record notes that obj, as it is now, is the result of our own write.
func (s *selfWrites) record(obj client.Object) {
	s.store(obj, &selfWrite{})
}

// recordStatus notes our status write to ev, computed from the version
// from; ev holds the metadata the API server answered with and the status
// that was written.
func (s *selfWrites) recordStatus(ev *eventsv1alpha1.IngresseEvent, from string) {
	s.store(ev, &selfWrite{from: from, status: ev.Status.DeepCopy()})
}

// recordConfigMap notes our write of a ConfigMap with contentHash, computed
// from its version from ("" when it did not exist), through the versions
// via.
func (s *selfWrites) recordConfigMap(written client.Object, from, contentHash string, via ...string) {
	s.store(written, &selfWrite{from: from, contentHash: contentHash, via: via})
}

func (s *selfWrites) store(obj client.Object, w *selfWrite) {
	if obj.GetUID() == "" || obj.GetResourceVersion() == "" {
		return
	}
	w.to = obj.GetResourceVersion()
	s.m.Store(obj.GetUID(), w)
}

// consume reports whether the watch event of obj needs no reconcile: obj
// is exactly the result of our last write to it (that write is then
// forgotten), or a write to it is in flight, which decides when it returns.
func (s *selfWrites) consume(obj client.Object) bool {
	if s.ours(obj.GetUID(), obj.GetResourceVersion()) {
		return true
	}
	if v, ok := s.inFlight.Load(writeKeyOf(obj)); ok {
		w := v.(*inFlightWrite)
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.done {
			w.held = append(w.held, obj.GetResourceVersion())
			return true
		}
	}
	return false
}

// stale returns our last write to obj when obj, as cached, is the version
// that write was computed from: the cache has not caught up with it yet.
// Otherwise the cache shows that write or a later one, and the entry is
// dropped.
func (s *selfWrites) stale(obj client.Object) *selfWrite {
	v, ok := s.m.Load(obj.GetUID())
	if !ok {
		return nil
	}
	w := v.(*selfWrite)
	if w.from != "" && (w.from == obj.GetResourceVersion() || slices.Contains(w.via, obj.GetResourceVersion())) {
		return w
	}
	s.m.CompareAndDelete(obj.GetUID(), v)
	return nil
}

// catchUp gives ev, read from a cache that has not caught up with our last
// status write, the status and resourceVersion that write produced. Only
// the controller writes status, so that status is what is stored.
func (s *selfWrites) catchUp(ev *eventsv1alpha1.IngresseEvent) {
	if w := s.stale(ev); w != nil && w.status != nil {
		ev.Status = *w.status.DeepCopy()
		ev.ResourceVersion = w.to
	}
}

// staleContentHash returns the content our last write put into cm when the
// cached cm is older than that write.
func (s *selfWrites) staleContentHash(cm client.Object) (string, bool) {
	if w := s.stale(cm); w != nil && w.contentHash != "" {
		return w.contentHash, true
	}
	return "", false
}

// forget drops what is remembered about a deleted object.
func (s *selfWrites) forget(uid types.UID) {
	s.m.Delete(uid)
}
