package webhookreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// The clock every test here gives the receiver: deliveries are dated
// relative to it, so nothing depends on the machine's clock.
var clockNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// TestUpdatedAtYearInUTC: updatedAt is checked in UTC as the envelope's
// timestamp is, so an offset cannot push it out of RFC 3339's four-digit
// years.
func TestUpdatedAtYearInUTC(t *testing.T) {
	for _, tc := range []struct {
		updatedAt string
		ok        bool
	}{
		{"2018-03-06T20:49:04.468974+00:00", true},
		{"9999-12-31T23:59:59.999999Z", true},
		{"9999-12-31T20:00:00-03:00", true},
		{"9999-12-31T21:00:00-03:00", false}, // 10000-01-01T00:00:00Z
		{"0000-01-01T00:00:00Z", true},
		{"0000-01-01T00:59:59+01:00", false}, // year -1 in UTC
	} {
		t.Run(tc.updatedAt, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{
				"webhook": webhookEventUpdate, "timestamp": "2019-03-12T19:32:46Z",
				"data": map[string]any{"id": 1, "updatedAt": tc.updatedAt},
			})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = decodeEnvelope(body)
			if tc.ok != (err == nil) {
				t.Fatalf("decodeEnvelope: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(asHTTPError(err).msg, "data.updatedAt must be between years 0000 and 9999 in UTC") {
				t.Fatalf("error %q does not name data.updatedAt and the years", asHTTPError(err).msg)
			}
		})
	}
}

// datedDelivery is the event-update example for event id with the given
// updatedAt and title.
func datedDelivery(t testing.TB, id int64, updatedAt time.Time, title string) []byte {
	t.Helper()
	return seed(t, examples.EventUpdate).with(t, func(p payload) {
		p.data()["id"] = id
		p.data()["updatedAt"] = updatedAt.Format(time.RFC3339Nano)
		p.data()["title"] = title
	}).bytes(t)
}

// TestUpdatedAtAheadOfTheClock: a delivery dated at most --receiver-max-
// clock-skew ahead of the receiver's clock is stored; one dated further is
// refused with 422, naming data.updatedAt, and nothing is written, whether
// the event is new or stored already. Checked at the boundaries and over
// random offsets.
func TestUpdatedAtAheadOfTheClock(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	const skew = 3 * time.Minute
	r := newReplica(t, ns, replicaConfig{opts: func(o *Options) { o.MaxClockSkew = skew }})
	r.srv.now = func() time.Time { return clockNow }

	offsets := []time.Duration{
		-365 * 24 * time.Hour, -time.Second, 0, time.Minute, skew - time.Microsecond, skew,
		skew + time.Microsecond, skew + time.Second, 24 * time.Hour, 100 * 365 * 24 * time.Hour,
	}
	rng := rand.New(rand.NewPCG(23, 1))
	for range 30 {
		offsets = append(offsets, time.Duration(rng.Int64N(int64(20*skew)))-10*skew)
	}
	for i, offset := range offsets {
		id := int64(1000 + i)
		name := eventsv1alpha1.ResourceName(id)
		rec := r.post(t, datedDelivery(t, id, clockNow.Add(offset), "first"))
		if offset <= skew {
			expect(t, rec, http.StatusCreated, outcomeCreated)
			continue
		}
		expect(t, rec, http.StatusUnprocessableEntity, "data.updatedAt")
		if !strings.Contains(rec.Body.String(), "ahead of the receiver's clock") {
			t.Fatalf("offset %s: answer %s does not say it is ahead of the clock", offset, rec.Body)
		}
		if obj := r.get(t, name); obj != nil {
			t.Fatalf("offset %s: refused, yet %s was stored", offset, name)
		}
	}
	if got := metricValue(t, r.reg, "ingresse_receiver_requests_total", map[string]string{"outcome": outcomeAheadOfClock}); got == 0 {
		t.Fatal("no request counted with outcome ahead_of_clock")
	}

	// A stored event is left as it is by a delivery from the future.
	const id = 999
	expect(t, r.post(t, datedDelivery(t, id, clockNow.Add(-time.Hour), "stored")), http.StatusCreated, outcomeCreated)
	before := r.get(t, eventsv1alpha1.ResourceName(id))
	expect(t, r.post(t, datedDelivery(t, id, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "planted")), http.StatusUnprocessableEntity, "data.updatedAt")
	if after := r.get(t, eventsv1alpha1.ResourceName(id)); after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("a refused delivery wrote the stored event (resourceVersion %s -> %s)", before.ResourceVersion, after.ResourceVersion)
	}
	// And the next real edit is stored, not judged stale.
	expect(t, r.post(t, datedDelivery(t, id, clockNow, "edited")), http.StatusOK, outcomeUpdated)
}

// TestVersionAheadOfTheClockIsRepaired: a version dated beyond the skew
// that is already stored (by a receiver without the check, or one whose
// clock ran ahead) loses to any valid version, a webhook's or the API's,
// which answers "repaired"; once repaired, ordering is as usual.
func TestVersionAheadOfTheClockIsRepaired(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{})
	r.srv.now = func() time.Time { return clockNow }
	ctx := context.Background()

	plant := func(id int64, updatedAt time.Time) {
		t.Helper()
		obj := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: eventsv1alpha1.ResourceName(id)}}
		obj.Spec.ID = id
		obj.Spec.Title = new("planted")
		obj.Spec.UpdatedAt = new(updatedAt.Format(time.RFC3339Nano))
		if err := controlPlane(t).Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	future := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

	t.Run("by a webhook", func(t *testing.T) {
		plant(1, future)
		expect(t, r.post(t, datedDelivery(t, 1, clockNow.Add(-48*time.Hour), "real")), http.StatusOK, outcomeRepaired)
		if got := strOf(r.get(t, eventsv1alpha1.ResourceName(1)).Spec.Title); got != "real" {
			t.Fatalf("title %q after the repair, want real", got)
		}
		// Repaired, the event orders as any other: older is stale.
		expect(t, r.post(t, datedDelivery(t, 1, clockNow.Add(-72*time.Hour), "older")), http.StatusOK, outcomeStale)
	})

	t.Run("by a copy from Ingresse's API", func(t *testing.T) {
		plant(2, clockNow.Add(eventstore.DefaultMaxClockSkew+time.Second))
		doc := testenv.SeedData(t, datedDelivery(t, 2, clockNow.Add(-time.Hour), "from the API"))
		stored, err := r.srv.writer.StoreFromAPI(ctx, doc, clockNow)
		if err != nil || stored.Outcome != eventstore.OutcomeRepaired {
			t.Fatalf("StoreFromAPI = %+v, %v; want %s", stored, err, eventstore.OutcomeRepaired)
		}
		if got := r.get(t, eventsv1alpha1.ResourceName(2)).Annotations[eventsv1alpha1.AnnotationSource]; got != eventsv1alpha1.SourceIngresseAPI {
			t.Fatalf("source annotation %q after the repair, want %s", got, eventsv1alpha1.SourceIngresseAPI)
		}
	})

	t.Run("a copy from the API dated beyond the skew is not stored", func(t *testing.T) {
		doc := testenv.SeedData(t, datedDelivery(t, 3, future, "from a wrong clock"))
		_, err := r.srv.writer.StoreFromAPI(ctx, doc, clockNow)
		if !errors.Is(err, eventstore.ErrInvalidEvent) || !strings.Contains(err.Error(), "ahead of the receiver's clock") {
			t.Fatalf("StoreFromAPI = %v, want an invalid event ahead of the clock", err)
		}
		if r.get(t, eventsv1alpha1.ResourceName(3)) != nil {
			t.Fatal("a copy dated beyond the skew was stored")
		}
	})
}

// countingSource is an EventSource that counts its calls and has nothing.
type countingSource struct{ calls atomic.Int32 }

func (s *countingSource) Event(context.Context, int64) (json.RawMessage, error) {
	s.calls.Add(1)
	return nil, errors.New("not asked in this test")
}

func (s *countingSource) CanReadEvents() error { return nil }

// TestVerifiedDeliveryAheadOfTheClock: in verified mode a delivery dated
// beyond the skew is refused with 422 before Ingresse's API is asked: the
// API can never confirm it, and 503 would have the sender retry forever.
func TestVerifiedDeliveryAheadOfTheClock(t *testing.T) {
	source := &countingSource{}
	r := newReplica(t, controlPlane(t).Namespace(t), replicaConfig{opts: func(o *Options) { o.VerifyWith = source }})
	r.srv.now = func() time.Time { return clockNow }
	expect(t, r.post(t, datedDelivery(t, 5, clockNow.Add(time.Hour), "future")), http.StatusUnprocessableEntity, "data.updatedAt")
	if n := source.calls.Load(); n != 0 {
		t.Fatalf("Ingresse's API was asked %d times for a delivery from the future", n)
	}
}
