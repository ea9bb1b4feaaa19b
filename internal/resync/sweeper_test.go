package resync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
)

// pagedLister serves ids 1..total in pages of size, failing the calls
// listed in failAt (by call number) once each.
type pagedLister struct {
	total, size int
	failAt      map[int]bool
	calls       []int // offsets asked, in order
	invalidID   int64
}

func (l *pagedLister) List(_ context.Context, offset int) (ingresseapi.Page, error) {
	l.calls = append(l.calls, offset)
	if l.failAt[len(l.calls)] {
		return ingresseapi.Page{}, errors.New("HTTP 503")
	}
	page := ingresseapi.Page{Total: l.total, Size: l.size}
	for id := offset + 1; id <= min(offset+l.size, l.total); id++ {
		doc := fmt.Sprintf(`{"id": %d}`, id)
		if int64(id) == l.invalidID {
			doc = `{"id": "not a number"}`
		}
		page.Events = append(page.Events, json.RawMessage(doc))
	}
	return page, nil
}

// countingStore stores nothing; it fails the writes listed in failAt once.
type countingStore struct {
	failAt map[int64]bool
	stored map[int64]int
}

func (s *countingStore) StoreFromAPI(_ context.Context, doc json.RawMessage, _ time.Time) (eventstore.Stored, error) {
	var ev struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(doc, &ev); err != nil {
		return eventstore.Stored{}, fmt.Errorf("%w: data.id must be a positive integer", eventstore.ErrInvalidEvent)
	}
	name := eventsv1alpha1.ResourceName(ev.ID)
	if s.failAt[ev.ID] {
		delete(s.failAt, ev.ID)
		return eventstore.Stored{ID: ev.ID, Name: name}, errors.New("the API server is unavailable")
	}
	s.stored[ev.ID]++
	outcome := eventstore.OutcomeUnchanged
	if ev.ID%2 == 0 {
		outcome = eventstore.OutcomeCreated
	}
	return eventstore.Stored{ID: ev.ID, Name: name, Outcome: outcome}, nil
}

func newTestSweeper(t *testing.T, l Lister, s Store, objs ...client.Object) (*Sweeper, client.Client) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := eventsv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	sw, err := New(Options{Namespace: "ns", ScopeLabel: eventsv1alpha1.LabelCompanyID, ScopeValue: "7",
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, l, s, c, nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return sw, c
}

// TestSweepResumesWhereItFailed: a page that fails is asked again at the
// same offset, a write that fails is retried, and every event is stored
// exactly once; an invalid document is counted and skipped.
func TestSweepResumesWhereItFailed(t *testing.T) {
	lister := &pagedLister{total: 95, size: 10, failAt: map[int]bool{3: true, 4: true, 8: true}, invalidID: 42}
	store := &countingStore{failAt: map[int64]bool{17: true, 63: true}, stored: map[int64]int{}}
	sw, _ := newTestSweeper(t, lister, store)

	r, err := sw.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 10, 20, 20, 20, 30, 40, 50, 50, 60, 70, 80, 90}
	if fmt.Sprint(lister.calls) != fmt.Sprint(want) {
		t.Errorf("offsets asked %v, want %v (a failed page is asked again, never page one)", lister.calls, want)
	}
	for id := int64(1); id <= 95; id++ {
		if got, want := store.stored[id], 1; id != 42 && got != want {
			t.Errorf("event %d stored %d times, want once", id, got)
		}
	}
	if r.Pages != 10 || r.Seen != 94 || r.Invalid != 1 || r.Retries != 5 || r.Created+r.Unchanged != 94 {
		t.Errorf("report %+v: want 10 pages, 94 seen, 1 invalid, 5 retries", r)
	}
}

// TestSweepMarksWhatTheListingMissed: stored events in scope that the
// listing did not return are marked once and never deleted; events out of
// scope are left alone.
func TestSweepMarksWhatTheListingMissed(t *testing.T) {
	event := func(id int64, company string, annotations map[string]string) *eventsv1alpha1.IngresseEvent {
		return &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{
			Name: eventsv1alpha1.ResourceName(id), Namespace: "ns", Annotations: annotations,
			Labels: map[string]string{eventsv1alpha1.LabelCompanyID: company},
		}}
	}
	already := map[string]string{eventsv1alpha1.AnnotationAbsentSince: "2026-01-01T00:00:00Z"}
	// Created while the listing was read: not judged by it.
	late := event(70, "7", nil)
	late.CreationTimestamp = metav1.NewTime(time.Now().Add(time.Hour))
	sw, c := newTestSweeper(t, &pagedLister{total: 3, size: 10}, &countingStore{stored: map[int64]int{}},
		event(1, "7", nil), event(2, "7", already), event(50, "7", nil), event(51, "7", already), event(60, "8", nil), late)

	r, err := sw.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Absent != 2 || r.Marked != 1 {
		t.Errorf("absent %d marked %d, want 2 absent (50, 51) and 1 newly marked (50)", r.Absent, r.Marked)
	}
	get := func(id int64) *eventsv1alpha1.IngresseEvent {
		var ev eventsv1alpha1.IngresseEvent
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: eventsv1alpha1.ResourceName(id)}, &ev); err != nil {
			t.Fatalf("event %d: %v (a sweep never deletes)", id, err)
		}
		return &ev
	}
	if get(50).Annotations[eventsv1alpha1.AnnotationAbsentSince] == "" {
		t.Errorf("event 50, missing from the listing, is not marked")
	}
	if got := get(51).Annotations[eventsv1alpha1.AnnotationAbsentSince]; got != "2026-01-01T00:00:00Z" {
		t.Errorf("event 51's first mark was rewritten to %q", got)
	}
	if _, marked := get(1).Annotations[eventsv1alpha1.AnnotationAbsentSince]; marked {
		t.Errorf("event 1, listed, is marked")
	}
	if _, marked := get(60).Annotations[eventsv1alpha1.AnnotationAbsentSince]; marked {
		t.Errorf("event 60, another company's, is marked")
	}
	if _, marked := get(2).Annotations[eventsv1alpha1.AnnotationAbsentSince]; marked {
		t.Errorf("event 2, marked before and listed again, keeps its mark")
	}
	if _, marked := get(70).Annotations[eventsv1alpha1.AnnotationAbsentSince]; marked {
		t.Errorf("event 70, created after the sweep started, is marked")
	}
}

// TestSweepStopsWithItsContext: a sweep waiting to retry a failing page
// ends with its context, and no later.
func TestSweepStopsWithItsContext(t *testing.T) {
	lister := &pagedLister{total: 10, size: 10, failAt: map[int]bool{}}
	for i := 1; i < 100000; i++ {
		lister.failAt[i] = true
	}
	sw, _ := newTestSweeper(t, lister, &countingStore{stored: map[int64]int{}})
	sw.opts.MinBackoff, sw.opts.MaxBackoff = time.Hour, time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := sw.Sweep(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sweep = %v, want the context's error", err)
	}
}
