package controllers

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
)

// The startup ends once every event listed at the start is reconciled,
// including those reconciled before the list came; the memory of the start
// is released then, once.
func TestStartupEndsOnceEveryListedEventIsReconciled(t *testing.T) {
	var released atomic.Int32
	s := &startup{log: logr.Discard(), began: time.Now(), release: func() { released.Add(1) }}
	a, b, c := types.NamespacedName{Namespace: "ns", Name: "event-1"}, types.NamespacedName{Namespace: "ns", Name: "event-2"}, types.NamespacedName{Namespace: "ns", Name: "event-3"}

	s.reconciled(a) // before the list
	s.listedEvents([]types.NamespacedName{a, b, c})
	if s.done || len(s.pending) != 2 {
		t.Fatalf("after the list: done %v, pending %v; want b and c pending", s.done, s.pending)
	}
	s.reconciled(b)
	s.reconciled(b)
	if s.done {
		t.Fatal("done with c still pending")
	}
	s.reconciled(c)
	if !s.done {
		t.Fatal("not done once every listed event was reconciled")
	}
	s.reconciled(a)
	s.listedEvents(nil)
	deadline := time.Now().Add(10 * time.Second)
	for released.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	if n := released.Load(); n != 1 {
		t.Errorf("the start's memory released %d times, want once", n)
	}
}
