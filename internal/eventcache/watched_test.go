package eventcache

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// watchedState is one watched state of an event: its generation, the
// generation its status observed, whether it is being deleted.
func watchedState(t testing.TB, uid string, rv, generation, observed int64, deleting bool) *eventsv1alpha1.IngresseEvent {
	ev := stored(t)
	ev.UID = types.UID(uid)
	ev.ResourceVersion = strconv.FormatInt(rv, 10)
	ev.Generation = generation
	ev.Status.ObservedGeneration = observed
	if deleting {
		now := metav1.Now()
		ev.DeletionTimestamp = &now
	}
	return ev
}

// keptSize is the size Watched counts for ev.
func keptSize(ev *eventsv1alpha1.IngresseEvent) int64 {
	c := *ev
	c.ManagedFields = nil
	return approxSize(reflect.ValueOf(c))
}

// The boundaries of what is kept: only a state waiting for a reconcile of
// its spec, only at its own resourceVersion, and never past a bound.
func TestWatchedKeepsOnlyWhatWaits(t *testing.T) {
	size := keptSize(watchedState(t, "a", 5, 1, 0, false))
	for _, c := range []struct {
		name                 string
		generation, observed int64
		deleting             bool
		maxEvents            int
		maxBytes             int64
		kept                 bool
	}{
		{"new, never reconciled", 1, 0, false, 10, 1 << 20, true},
		{"changed, one generation ahead", 3, 2, false, 10, 1 << 20, true},
		{"converged", 2, 2, false, 10, 1 << 20, false},
		{"observed ahead (a hand-written status)", 2, 3, false, 10, 1 << 20, false},
		{"being deleted", 2, 1, true, 10, 1 << 20, false},
		{"no room by count", 1, 0, false, 0, 1 << 20, false},
		{"no room by bytes", 1, 0, false, 10, 0, false},
		{"exactly the bytes it needs", 1, 0, false, 10, size, true},
		{"one byte short", 1, 0, false, 10, size - 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := NewWatched(c.maxEvents, c.maxBytes)
			ev := watchedState(t, "a", 5, c.generation, c.observed, c.deleting)
			out, err := w.Transform(ev)
			if err != nil {
				t.Fatal(err)
			}
			cached := out.(*eventsv1alpha1.IngresseEvent)
			if !Elided(cached) {
				t.Fatal("the cached copy kept its spec")
			}
			got := w.Get(cached)
			if (got != nil) != c.kept {
				t.Fatalf("kept = %v, want %v", got != nil, c.kept)
			}
			if !c.kept {
				if w.Len() != 0 || w.Bytes() != 0 {
					t.Errorf("Len %d, Bytes %d of nothing kept", w.Len(), w.Bytes())
				}
				return
			}
			want := watchedState(t, "a", 5, c.generation, c.observed, c.deleting)
			want.ManagedFields = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("kept %+v\nwant the state as watched %+v", got, want)
			}
			got.Spec.ID = 1 // a copy: the caller may change it
			if w.Get(cached).Spec.ID == 1 {
				t.Error("Get hands out what it keeps, not a copy")
			}
			other := cached.DeepCopy()
			other.ResourceVersion = "6"
			if w.Get(other) != nil {
				t.Error("a state at another resourceVersion was answered with the kept one")
			}
			w.Forget("a")
			if w.Len() != 0 || w.Bytes() != 0 || w.Get(cached) != nil {
				t.Error("Forget kept it")
			}
		})
	}
}

// A property over random watch histories of a few events: what is kept is
// exactly each event's last state when that state waits for a reconcile
// and fitted, the bounds always hold, Bytes is the sum of what is kept, and
// once every event converges (or is forgotten) nothing is.
func TestWatchedFollowsTheWatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 200 {
		maxEvents := rng.IntN(6)
		perEvent := keptSize(watchedState(t, "e0", 10, 1, 0, false))
		maxBytes := perEvent * int64(rng.IntN(6))
		w := NewWatched(maxEvents, maxBytes)
		last := map[string]*eventsv1alpha1.IngresseEvent{}
		// model is what should be kept: a state that waits is kept when,
		// at its arrival, there is room for it beside the others.
		model := map[string]int64{}
		modelBytes := func() (n int64) {
			for _, b := range model {
				n += b
			}
			return n
		}
		rv := int64(0)
		for range 60 {
			uid := "e" + strconv.Itoa(rng.IntN(5))
			rv++
			switch rng.IntN(6) {
			case 0: // deleted: the predicate forgets it
				w.Forget(types.UID(uid))
				delete(last, uid)
				delete(model, uid)
				continue
			default:
				gen := int64(rng.IntN(3) + 1)
				ev := watchedState(t, uid, rv, gen, gen-int64(rng.IntN(2)), rng.IntN(8) == 0)
				delete(model, uid)
				if size := keptSize(ev); ev.Generation > ev.Status.ObservedGeneration && ev.DeletionTimestamp == nil &&
					len(model) < maxEvents && modelBytes()+size <= maxBytes {
					model[uid] = size
				}
				out, _ := w.Transform(ev)
				last[uid] = out.(*eventsv1alpha1.IngresseEvent)
			}
			var sum int64
			for uid, cached := range last {
				got := w.Get(cached)
				waits := cached.Generation > cached.Status.ObservedGeneration && cached.DeletionTimestamp.IsZero()
				if got != nil && !waits {
					t.Fatalf("run %d: %s kept although it does not wait", run, uid)
				}
				if _, want := model[uid]; want != (got != nil) {
					t.Fatalf("run %d: %s kept = %v, want %v", run, uid, got != nil, want)
				}
				if got != nil {
					sum += keptSize(got)
				}
			}
			if w.Len() > maxEvents || w.Bytes() > maxBytes || w.Bytes() != sum {
				t.Fatalf("run %d: Len %d (max %d), Bytes %d (max %d, sum of kept %d)", run, w.Len(), maxEvents, w.Bytes(), maxBytes, sum)
			}
		}
		for uid, cached := range last {
			conv := watchedState(t, uid, rv+1, cached.Generation, cached.Generation, false)
			_, _ = w.Transform(conv)
		}
		if w.Len() != 0 || w.Bytes() != 0 {
			t.Fatalf("run %d: %d kept (%d bytes) once everything converged", run, w.Len(), w.Bytes())
		}
	}
}

// Paused, nothing new is kept, and a state that no longer waits still
// drops what was kept of it; resumed, waiting states are kept again.
func TestWatchedPaused(t *testing.T) {
	w := NewWatched(10, 1<<20)
	kept := watchedState(t, "a", 5, 1, 0, false)
	if _, err := w.Transform(kept.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	w.Pause()
	listed := watchedState(t, "b", 6, 1, 0, false)
	if _, err := w.Transform(listed.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if w.Get(listed) != nil || w.Len() != 1 {
		t.Fatalf("paused: %d kept, b kept %t; want only a", w.Len(), w.Get(listed) != nil)
	}
	converged := watchedState(t, "a", 7, 1, 1, false)
	if _, err := w.Transform(converged.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if w.Len() != 0 || w.Bytes() != 0 {
		t.Fatalf("paused: a converged but %d kept (%d bytes)", w.Len(), w.Bytes())
	}
	w.Resume()
	changed := watchedState(t, "b", 8, 2, 1, false)
	if _, err := w.Transform(changed.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if w.Get(changed) == nil {
		t.Fatal("resumed: a waiting state was not kept")
	}
}
