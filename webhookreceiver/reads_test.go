package webhookreceiver

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// requestLog records the requests a replica sends to the API server.
type requestLog struct {
	mu       sync.Mutex
	requests []string
}

func (l *requestLog) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.requests = append(l.requests, req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery)
		l.mu.Unlock()
		return next.RoundTrip(req)
	})
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests = nil
}

// events returns the requests for IngresseEvents (not discovery's).
func (l *requestLog) events() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, req := range l.requests {
		if strings.Contains(req, "/ingresseevents") {
			out = append(out, req)
		}
	}
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestReceiverKeepsNoInformer: the receiver never lists or watches
// IngresseEvents (its Role has neither verb, and its memory must not grow
// with the events stored). A new version is read from the API server's
// watch cache and written against it; a duplicate or a stale delivery is
// confirmed with one quorum read and writes nothing.
func TestReceiverKeepsNoInformer(t *testing.T) {
	requests := &requestLog{}
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{requests: requests})
	const id = 7101
	path := "/apis/events.ingresse.com/v1alpha1/namespaces/" + ns + "/ingresseevents"
	item := path + "/event-7101"

	// Starting and becoming ready: one read of an event that cannot
	// exist, from the watch cache, and no list or watch.
	for _, req := range requests.events() {
		if req != "GET "+path+"/event-0?resourceVersion=0" {
			t.Errorf("while starting, the receiver sent %s", req)
		}
	}

	type step struct {
		what     string
		body     payload
		code     int
		outcome  string
		requests []string
	}
	for _, s := range []step{
		{"a new event", versionOf(t, id, 1), http.StatusCreated, outcomeCreated,
			[]string{"GET " + item + "?resourceVersion=0", "POST " + path + "?fieldManager=" + eventstore.FieldOwner}},
		{"a newer version", versionOf(t, id, 2), http.StatusOK, outcomeUpdated,
			[]string{"GET " + item + "?resourceVersion=0", "PUT " + item + "?fieldManager=" + eventstore.FieldOwner}},
		{"a duplicate", versionOf(t, id, 2), http.StatusOK, outcomeUnchanged,
			[]string{"GET " + item + "?resourceVersion=0", "GET " + item + "?"}},
		{"a stale version", versionOf(t, id, 1), http.StatusOK, outcomeStale,
			[]string{"GET " + item + "?resourceVersion=0", "GET " + item + "?"}},
	} {
		if stored := r.get(t, "event-7101"); stored != nil {
			// The API server's watch cache may lag a moment behind the
			// last write, which would cost a conflict and a live read:
			// correct, but not the requests this test pins.
			eventually(t, "the watch cache shows the last write", func() bool {
				cached, err := readWatchCache(context.Background(), t, client.ObjectKeyFromObject(stored))
				return err == nil && cached.ResourceVersion == stored.ResourceVersion
			})
		}
		requests.reset()
		expect(t, r.post(t, s.body.bytes(t)), s.code, s.outcome)
		got := requests.events()
		if strings.Join(got, "\n") != strings.Join(s.requests, "\n") {
			t.Errorf("%s: requests for IngresseEvents\n  %s\nwant\n  %s", s.what, strings.Join(got, "\n  "), strings.Join(s.requests, "\n  "))
		}
	}
	if got := r.get(t, "event-7101"); strOf(got.Spec.Title) != "version 2" || got.Generation != 2 {
		t.Errorf("stored %q at generation %d, want version 2 at 2", strOf(got.Spec.Title), got.Generation)
	}
}

// TestReadLiveFirst: a writer that mostly meets stored versions (a resync
// sweep) reads each event once, with a quorum read, and writes nothing for
// an unchanged one.
func TestReadLiveFirst(t *testing.T) {
	requests := &requestLog{}
	cfg := rest.CopyConfig(controlPlane(t).Config)
	cfg.Wrap(requests.RoundTrip)
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := controlPlane(t).Namespace(t)
	w := eventstore.NewWriter(c, c, nil, eventstore.WriterOptions{Namespace: ns}).ReadLiveFirst()
	doc := testenv.SeedData(t, examples.EventCreate)
	item := "/apis/events.ingresse.com/v1alpha1/namespaces/" + ns + "/ingresseevents/event-21447"
	for _, s := range []struct {
		outcome  string
		requests []string
	}{
		{eventstore.OutcomeCreated, []string{"GET " + item + "?", "POST /apis/events.ingresse.com/v1alpha1/namespaces/" + ns + "/ingresseevents?fieldManager=" + eventstore.FieldOwner}},
		{eventstore.OutcomeUnchanged, []string{"GET " + item + "?"}},
	} {
		requests.reset()
		got, err := w.StoreFromAPI(context.Background(), doc, time.Now())
		if err != nil || got.Outcome != s.outcome {
			t.Fatalf("StoreFromAPI = %+v, %v; want %s", got, err, s.outcome)
		}
		if got := requests.events(); strings.Join(got, "\n") != strings.Join(s.requests, "\n") {
			t.Errorf("%s: requests\n  %s\nwant\n  %s", s.outcome, strings.Join(got, "\n  "), strings.Join(s.requests, "\n  "))
		}
	}
}
