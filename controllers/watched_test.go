package controllers

import (
	"context"
	"fmt"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
)

// specReader counts the IngresseEvents the reconciler reads from the API
// server (its spec reads), by name.
type specReader struct {
	client.Reader
	mu    sync.Mutex
	reads map[string]int
}

func (s *specReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*eventsv1alpha1.IngresseEvent); ok {
		s.mu.Lock()
		s.reads[key.Name]++
		s.mu.Unlock()
	}
	return s.Reader.Get(ctx, key, obj, opts...)
}

func (s *specReader) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.reads {
		n += c
	}
	return n
}

// startCountingSpecReads starts the controller in ns with watched, its spec
// reads from the API server counted.
func startCountingSpecReads(t *testing.T, ns string, watched *eventcache.Watched) *specReader {
	t.Helper()
	r := &IngresseEventReconciler{Watched: watched}
	mgr := newManager(t, env.Config, ns, withWatched(watched))
	if err := r.SetupWithManager(mgr, Options{MaxConcurrentReconciles: 2}); err != nil {
		t.Fatal(err)
	}
	reads := &specReader{Reader: r.apiReader, reads: map[string]int{}}
	r.apiReader = reads
	runManager(t, mgr)
	// Watched keeps what the watch delivers after the start's list (see
	// TestStartListIsNotKept): wait for that list before creating events.
	eventually(t, "Watched resumed after the start's list", func() error {
		if watched.Paused() {
			return fmt.Errorf("still paused")
		}
		return nil
	})
	return reads
}

// A new event, and a changed one, is reconciled from the object the watch
// decoded: no read of its spec from the API server. Once everything has
// converged nothing is kept.
func TestReconcilesFromWhatTheWatchDecoded(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	watched := eventcache.NewWatched(10000, 64<<20)
	reads := startCountingSpecReads(t, ns, watched)

	const n = 8
	keys := make([]client.ObjectKey, 0, n)
	for i := range n {
		spec := seedSpec(t)
		spec.ID += int64(i)
		ev := newEvent(ns, spec)
		if err := env.Client.Create(ctx, ev); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, client.ObjectKeyFromObject(ev))
	}
	for _, key := range keys {
		waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
	}
	eventually(t, "nothing kept once converged", func() error {
		if n, b := watched.Len(), watched.Bytes(); n != 0 || b != 0 {
			return fmt.Errorf("%d events (%d bytes) still kept", n, b)
		}
		return nil
	})

	// A changed spec (a new generation) is reconciled from the watch too.
	ev := getEvent(t, keys[0])
	ev.Spec.Title = ptr.To("A new title")
	if err := env.Client.Update(ctx, ev); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new title in the ConfigMap", func() error {
		cm, err := getConfigMap(keys[0])
		if err != nil {
			return err
		}
		if cm.Data["EVENT_TITLE"] != "A new title" {
			return fmt.Errorf("EVENT_TITLE = %q", cm.Data["EVENT_TITLE"])
		}
		got := getEvent(t, keys[0])
		if got.Status.ObservedGeneration != got.Generation {
			return fmt.Errorf("observedGeneration %d of %d", got.Status.ObservedGeneration, got.Generation)
		}
		return nil
	})
	if got := reads.total(); got != 0 {
		t.Errorf("%d spec reads from the API server (%v), want 0: the watch brought every spec", got, reads.reads)
	}
}

// With nothing kept (a bound of 0, as past either bound), every reconcile
// falls back to reading the spec, and the result is the same.
func TestReadsTheSpecWhenNotKept(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	watched := eventcache.NewWatched(0, 0)
	reads := startCountingSpecReads(t, ns, watched)

	ev := newEvent(ns, seedSpec(t))
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ev)
	waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
	if _, err := getConfigMap(key); err != nil {
		t.Fatal(err)
	}
	if got := reads.total(); got == 0 {
		t.Error("no spec read from the API server although nothing was kept")
	}
	if watched.Len() != 0 {
		t.Errorf("%d kept with bounds of 0", watched.Len())
	}
}

// The events stored before the controller starts arrive in the informer's
// first list: they are not kept (the start's peak would grow by every
// pending event, up to the bounds) and are reconciled by reading their
// spec; what the watch delivers after the list is kept again.
func TestStartListIsNotKept(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	const n = 5
	var before []client.ObjectKey
	for i := range n {
		spec := seedSpec(t)
		spec.ID += int64(100 + i)
		ev := newEvent(ns, spec)
		if err := env.Client.Create(ctx, ev); err != nil {
			t.Fatal(err)
		}
		before = append(before, client.ObjectKeyFromObject(ev))
	}
	watched := eventcache.NewWatched(10000, 64<<20)
	reads := startCountingSpecReads(t, ns, watched)
	for _, key := range before {
		waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
	}
	reads.mu.Lock()
	for _, key := range before {
		if reads.reads[key.Name] == 0 {
			t.Errorf("%s, stored before the start, was not read: it was kept from the start's list", key.Name)
		}
	}
	reads.mu.Unlock()

	after := newEvent(ns, seedSpec(t))
	if err := env.Client.Create(ctx, after); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(after)
	waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
	reads.mu.Lock()
	defer reads.mu.Unlock()
	if got := reads.reads[key.Name]; got != 0 {
		t.Errorf("%s, created after the start, was read %d times: the watch's object was not kept", key.Name, got)
	}
}
