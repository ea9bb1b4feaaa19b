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

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
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
		line := req.Method + " " + req.URL.Path + "?" + req.URL.RawQuery
		if strings.Contains(req.Header.Get("Accept"), "as=PartialObjectMetadata") {
			line += " (metadata)" // the answer is the object's metadata only
		}
		l.requests = append(l.requests, line)
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

// TestReceiverKeepsNoInformer pins the requests the receiver sends per
// delivery. It never lists or watches IngresseEvents (its Role has neither
// verb, and its memory must not grow with the events stored), and every
// read and every answer to a write is of metadata only. An event-create is
// created with no read; only an AlreadyExists leads to a quorum read. Any
// other version is read from the API server's watch cache and written
// against it; a duplicate or a stale delivery is confirmed with one quorum
// read and writes nothing. An object whose version annotation cannot be
// trusted (stored before it, or its spec changed by someone else) is read
// whole as well.
func TestReceiverKeepsNoInformer(t *testing.T) {
	requests := &requestLog{}
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{requests: requests})
	const id = 7101
	path := "/apis/events.ingresse.com/v1alpha1/namespaces/" + ns + "/ingresseevents"
	item := path + "/event-7101"
	const meta = " (metadata)"
	create := "POST " + path + "?fieldManager=" + eventstore.FieldOwner + meta
	update := "PUT " + item + "?fieldManager=" + eventstore.FieldOwner + meta
	cached, live := "GET "+item+"?resourceVersion=0", "GET "+item+"?"

	// Starting and becoming ready: one read of an event that cannot
	// exist, from the watch cache, and no list or watch.
	for _, req := range requests.events() {
		if req != "GET "+path+"/event-0?resourceVersion=0"+meta {
			t.Errorf("while starting, the receiver sent %s", req)
		}
	}

	asCreate := func(p payload) payload {
		return p.with(t, func(p payload) { p["webhook"] = eventstore.WebhookEventCreate })
	}
	// handEdit changes the stored spec as kubectl edit would: the
	// generation moves, the version annotation stays. Its updatedAt is
	// older than version 2's, so version 2 sent again must replace it:
	// trusting the annotation would answer "unchanged".
	handEdit := func() {
		obj := r.get(t, "event-7101")
		obj.Spec.Title, obj.Spec.UpdatedAt = new(string), new(string)
		*obj.Spec.Title = "edited by hand"
		*obj.Spec.UpdatedAt = "2026-01-02T03:04:05Z"
		if err := controlPlane(t).Client.Update(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
	type step struct {
		what     string
		before   func()
		body     payload
		code     int
		outcome  string
		requests []string
	}
	for _, s := range []step{
		{"a new event (event-create)", nil, asCreate(versionOf(t, id, 1)), http.StatusCreated, outcomeCreated,
			[]string{create}},
		{"an event-create sent again", nil, asCreate(versionOf(t, id, 1)), http.StatusOK, outcomeUnchanged,
			[]string{create, live + meta}},
		{"a newer version", nil, versionOf(t, id, 2), http.StatusOK, outcomeUpdated,
			[]string{cached + meta, update}},
		{"a duplicate", nil, versionOf(t, id, 2), http.StatusOK, outcomeUnchanged,
			[]string{cached + meta, live + meta}},
		{"a stale version", nil, versionOf(t, id, 1), http.StatusOK, outcomeStale,
			[]string{cached + meta, live + meta}},
		{"an event-create of a stale version", nil, asCreate(versionOf(t, id, 1)), http.StatusOK, outcomeStale,
			[]string{create, live + meta}},
		{"a duplicate of a spec edited by hand", handEdit, versionOf(t, id, 2), http.StatusOK, outcomeUpdated,
			[]string{cached + meta, cached, update}},
		{"a newer version after that", nil, versionOf(t, id, 3), http.StatusOK, outcomeUpdated,
			[]string{cached + meta, update}},
	} {
		if s.before != nil {
			s.before()
		}
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
	// Generations: 1 created, 2 the newer version, 3 the hand edit, 4 its
	// repair, 5 version 3; the annotation follows.
	got := r.get(t, "event-7101")
	if strOf(got.Spec.Title) != "version 3" || got.Generation != 5 {
		t.Errorf("stored %q at generation %d, want version 3 at 5", strOf(got.Spec.Title), got.Generation)
	}
	if v := got.Annotations[eventsv1alpha1.AnnotationVersion]; !strings.HasPrefix(v, "5/2026-01-02T03:07:05Z/") {
		t.Errorf("version annotation %q, want generation 5 and version 3's updatedAt", v)
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
		{eventstore.OutcomeCreated, []string{"GET " + item + "? (metadata)", "POST /apis/events.ingresse.com/v1alpha1/namespaces/" + ns + "/ingresseevents?fieldManager=" + eventstore.FieldOwner}},
		{eventstore.OutcomeUnchanged, []string{"GET " + item + "? (metadata)"}},
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
