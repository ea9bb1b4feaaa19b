package resync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
)

// listing serves ids 1..n in pages of size, with a total that total
// computes from n (what the API says, true or not).
type listing struct {
	n, size    int
	total      func(n int) (int, bool)
	offsetsAsk []int
}

func (l *listing) List(_ context.Context, offset int) (ingresseapi.Page, error) {
	l.offsetsAsk = append(l.offsetsAsk, offset)
	total, lower := l.total(l.n)
	page := ingresseapi.Page{Total: total, TotalIsLowerBound: lower, Size: l.size}
	for id := offset + 1; id <= min(offset+l.size, l.n); id++ {
		page.Events = append(page.Events, json.RawMessage(fmt.Sprintf(`{"id": %d}`, id)))
	}
	return page, nil
}

// absentEvent is a stored event of the sweep's scope that no listing
// returns.
func absentEvent() *eventsv1alpha1.IngresseEvent {
	return &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{
		Name: eventsv1alpha1.ResourceName(999999), Namespace: "ns",
		Labels:            map[string]string{eventsv1alpha1.LabelCompanyID: "7"},
		CreationTimestamp: metav1.Unix(1, 0),
	}}
}

func marked(t *testing.T, c client.Client) bool {
	t.Helper()
	ev := &eventsv1alpha1.IngresseEvent{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: eventsv1alpha1.ResourceName(999999)}, ev); err != nil {
		t.Fatal(err)
	}
	_, ok := ev.Annotations[eventsv1alpha1.AnnotationAbsentSince]
	return ok
}

// TestSweepReadsTheWholeListingWhateverItsTotal: for listings of every
// length around the page size, and totals that are exact, lower bounds
// (Elasticsearch's "gte", capped below, at or above the length), or lies
// (too low, too high), the sweep reads until a short or empty page and
// stores every event once. It marks absent events only when the listing
// was whole; a listing that ends short of an exact total it gave is
// incomplete: nothing is marked, and the sweep says so.
func TestSweepReadsTheWholeListingWhateverItsTotal(t *testing.T) {
	const size = 10
	totals := map[string]func(n int) (int, bool){
		"exact":                 func(n int) (int, bool) { return n, false },
		"lower bound below":     func(n int) (int, bool) { return min(n, 5), true },
		"lower bound at length": func(n int) (int, bool) { return n, true },
		"lower bound above":     func(n int) (int, bool) { return n + 15, true },
		"exact, too low":        func(n int) (int, bool) { return n / 2, false },
		"exact, zero":           func(int) (int, bool) { return 0, false },
		"exact, too high":       func(n int) (int, bool) { return n + 7, false },
	}
	for _, n := range []int{0, 1, size - 1, size, size + 1, 2 * size, 2*size + 1, 95} {
		for name, total := range totals {
			t.Run(fmt.Sprintf("%d events, %s", n, name), func(t *testing.T) {
				l := &listing{n: n, size: size, total: total}
				store := &countingStore{stored: map[int64]int{}}
				sw, c := newTestSweeper(t, l, store, absentEvent())
				r, err := sw.Sweep(context.Background())

				for id := int64(1); id <= int64(n); id++ {
					if store.stored[id] != 1 {
						t.Errorf("event %d stored %d times, want once", id, store.stored[id])
					}
				}
				if want := n/size + 1; len(l.offsetsAsk) != want {
					t.Errorf("pages asked at %v, want %d (until a short or empty page)", l.offsetsAsk, want)
				}
				tot, lower := total(n)
				incomplete := !lower && tot > n
				if incomplete {
					if !errors.Is(err, ErrListingIncomplete) || r.ListingComplete {
						t.Fatalf("a listing short of its exact total: err %v, complete %v; want ErrListingIncomplete", err, r.ListingComplete)
					}
					if marked(t, c) {
						t.Error("an incomplete listing marked an event absent")
					}
					return
				}
				if err != nil || !r.ListingComplete {
					t.Fatalf("err %v, complete %v", err, r.ListingComplete)
				}
				if !marked(t, c) || r.Absent != 1 {
					t.Errorf("a whole listing did not mark the event it misses (absent %d)", r.Absent)
				}
			})
		}
	}
}

// TestSweepWithAPageThatKeepsFailing: after maxPageAttempts the sweep ends
// as incomplete, having marked nothing; the next sweep starts over.
func TestSweepWithAPageThatKeepsFailing(t *testing.T) {
	lister := &pagedLister{total: 30, size: 10, failAt: map[int]bool{}}
	for call := 2; call < 2+maxPageAttempts; call++ {
		lister.failAt[call] = true // the second page, every attempt
	}
	store := &countingStore{stored: map[int64]int{}}
	sw, c := newTestSweeper(t, lister, store, absentEvent())
	r, err := sw.Sweep(context.Background())
	if !errors.Is(err, ErrListingIncomplete) || r.ListingComplete || marked(t, c) {
		t.Fatalf("err %v, complete %v, marked %v: want incomplete and nothing marked", err, r.ListingComplete, marked(t, c))
	}
	if r, err = sw.Sweep(context.Background()); err != nil || !r.ListingComplete || !marked(t, c) {
		t.Fatalf("the next sweep: err %v, complete %v, marked %v", err, r.ListingComplete, marked(t, c))
	}
}

// refusingStore refuses the writes of some ids, always, with the error
// refuse gives; it stores the others.
type refusingStore struct {
	refuse   func(id int64) error
	attempts map[int64]int
	stored   map[int64]int
}

func (s *refusingStore) StoreFromAPI(_ context.Context, doc json.RawMessage, _ time.Time) (eventstore.Stored, error) {
	id, _ := documentID(doc)
	name := eventsv1alpha1.ResourceName(id)
	s.attempts[id]++
	if err := s.refuse(id); err != nil {
		return eventstore.Stored{ID: id, Name: name}, err
	}
	s.stored[id]++
	return eventstore.Stored{ID: id, Name: name, Outcome: eventstore.OutcomeCreated}, nil
}

var ieResource = schema.GroupResource{Group: "events.ingresse.com", Resource: "ingresseevents"}

// TestSweepSkipsWhatCannotBeStored: events whose writes keep failing, for
// each reason, are retried maxWriteAttempts times, counted by reason and
// skipped; every later event is stored, the listing is whole (so the
// event it misses is marked), and the next sweep tries the skipped ones
// again.
func TestSweepSkipsWhatCannotBeStored(t *testing.T) {
	refusals := map[int64]error{
		3:  fmt.Errorf("storing: %w", eventstore.ErrBeingDeleted),
		17: apierrors.NewForbidden(ieResource, "event-17", errors.New("exceeded quota: q, requested: count/ingresseevents.events.ingresse.com=1")),
		18: apierrors.NewForbidden(ieResource, "event-18", errors.New("not allowed")),
		40: apierrors.NewTimeoutError("the API server timed out", 1),
		41: errors.New("connection refused"),
	}
	want := map[string]int{skipBeingDeleted: 1, skipQuota: 1, skipForbidden: 1, skipTimeout: 1, skipUnavailable: 1}
	store := &refusingStore{refuse: func(id int64) error { return refusals[id] }, attempts: map[int64]int{}, stored: map[int64]int{}}
	sw, c := newTestSweeper(t, &pagedLister{total: 50, size: 10}, store, absentEvent())

	r, err := sw.Sweep(context.Background())
	if err != nil || !r.ListingComplete {
		t.Fatalf("err %v, complete %v", err, r.ListingComplete)
	}
	if fmt.Sprint(r.Skipped) != fmt.Sprint(want) {
		t.Errorf("skipped %v, want %v", r.Skipped, want)
	}
	for id := int64(1); id <= 50; id++ {
		switch {
		case refusals[id] != nil && store.attempts[id] != maxWriteAttempts:
			t.Errorf("event %d tried %d times, want %d", id, store.attempts[id], maxWriteAttempts)
		case refusals[id] == nil && store.stored[id] != 1:
			t.Errorf("event %d stored %d times, want once", id, store.stored[id])
		}
	}
	if !marked(t, c) {
		t.Error("a whole listing with skipped events did not mark the event it misses")
	}
	for _, reason := range skipReasons {
		if got := counterValue(t, sw.metrics.skipped.WithLabelValues(reason)); got != float64(want[reason]) {
			t.Errorf("ingresse_resync_skipped_total{reason=%q} = %v, want %d", reason, got, want[reason])
		}
	}

	// Fixed meanwhile: the next sweep stores them.
	refusals = map[int64]error{}
	if r, err = sw.Sweep(context.Background()); err != nil || len(r.Skipped) != 0 {
		t.Fatalf("the next sweep: err %v, skipped %v", err, r.Skipped)
	}
	for _, id := range []int64{3, 17, 18, 40, 41} {
		if store.stored[id] != 1 {
			t.Errorf("event %d, skipped before, stored %d times by the next sweep, want once", id, store.stored[id])
		}
	}
}

// TestSweepWhenEveryWriteFails: when every write fails alike (a full
// quota), the sweep still ends in about one attempt per event, not
// maxWriteAttempts with backoff each.
func TestSweepWhenEveryWriteFails(t *testing.T) {
	quota := apierrors.NewForbidden(ieResource, "x", errors.New("exceeded quota: q"))
	store := &refusingStore{refuse: func(int64) error { return quota }, attempts: map[int64]int{}, stored: map[int64]int{}}
	sw, _ := newTestSweeper(t, &pagedLister{total: 200, size: 50}, store)
	r, err := sw.Sweep(context.Background())
	if err != nil || r.Skipped[skipQuota] != 200 {
		t.Fatalf("err %v, skipped %v: want 200 skipped for quota", err, r.Skipped)
	}
	calls := 0
	for _, n := range store.attempts {
		calls += n
	}
	if bound := skipOpenAfter*maxWriteAttempts + (200 - skipOpenAfter); calls > bound {
		t.Errorf("%d write attempts for 200 events, want at most %d", calls, bound)
	}
}

// counterValue is a counter's value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
