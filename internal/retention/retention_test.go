package retention

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Run(m, &env) }

// reasons records the reasons of the Events the Reaper records.
type reasons struct {
	mu   sync.Mutex
	seen map[string][]string // object name -> reasons
}

func (r *reasons) Eventf(regarding, _ runtime.Object, _, reason, _, _ string, _ ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := regarding.(client.Object).GetName()
	r.seen[name] = append(r.seen[name], reason)
}

func (r *reasons) AnnotatedEventf(regarding, related runtime.Object, _ map[string]string, eventtype, reason, action, note string, args ...any) {
	r.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

const day = 24 * time.Hour

// event stores an IngresseEvent with the seed payload, the given session
// start times (RFC 3339; "cancelled:" marks a cancelled one) and the time
// its stored version was received.
func event(t *testing.T, ns string, id int64, receivedAt time.Time, sessions ...string) {
	t.Helper()
	var spec eventsv1alpha1.IngresseEventSpec
	if err := json.Unmarshal(testenv.SeedData(t, examples.EventCreate), &spec); err != nil {
		t.Fatal(err)
	}
	spec.ID = id
	spec.Sessions = nil
	for _, s := range sessions {
		session := eventsv1alpha1.Session{}
		if rest, ok := strings.CutPrefix(s, "cancelled:"); ok {
			session.Status, s = new("cancelled"), rest
		}
		session.DateTime = new(s)
		spec.Sessions = append(spec.Sessions, session)
	}
	ev := &eventsv1alpha1.IngresseEvent{
		ObjectMeta: metav1.ObjectMeta{Name: eventsv1alpha1.ResourceName(id), Namespace: ns,
			Annotations: map[string]string{eventsv1alpha1.AnnotationReceivedAt: receivedAt.UTC().Format(time.RFC3339Nano)}},
		Spec: spec,
	}
	if err := env.Client.Create(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, ns string, id int64) bool {
	t.Helper()
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: eventsv1alpha1.ResourceName(id)}, &eventsv1alpha1.IngresseEvent{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func newReaper(t *testing.T, ns string, dryRun bool, rec *reasons) *Reaper {
	t.Helper()
	var events recorder.EventRecorder
	if rec != nil {
		events = rec
	}
	r, err := New(Options{Namespace: ns, After: 30 * day, Interval: time.Hour, DeletesPerSecond: 1000, DryRun: dryRun},
		env.Client, env.Client, events, nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// seedRetention stores one event of each kind the rule tells apart, 30
// days being the retention.
func seedRetention(t *testing.T, ns string) (finished []int64, kept []int64) {
	now := time.Now()
	old, longAgo, recently, future := now.Add(-40*day), now.Add(-60*day).Format(time.RFC3339), now.Add(-2*day).Format(time.RFC3339), now.Add(100*day).Format(time.RFC3339)
	event(t, ns, 1, old, longAgo)                      // finished, unchanged for long: expired
	event(t, ns, 2, old, longAgo, "cancelled:"+future) // the cancelled session never happens: expired
	event(t, ns, 3, old, future)                       // a session to come
	event(t, ns, 4, old, longAgo, recently)            // a session within the retention
	event(t, ns, 5, now.Add(-time.Hour), longAgo)      // changed recently
	event(t, ns, 6, old)                               // no sessions: nothing says it ended
	event(t, ns, 7, old, "cancelled:"+longAgo)         // only cancelled sessions
	event(t, ns, 8, old, longAgo, "not a time")        // a session that cannot be read
	return []int64{1, 2}, []int64{3, 4, 5, 6, 7, 8}
}

// TestRetentionDeletesOnlyFinishedEvents: on the real API server, only
// the events whose every session started, and whose stored version
// stayed unchanged, longer ago than the retention are deleted, each with
// an Event.
func TestRetentionDeletesOnlyFinishedEvents(t *testing.T) {
	ns := env.Namespace(t)
	finished, kept := seedRetention(t, ns)
	rec := &reasons{seen: map[string][]string{}}
	rep, err := newReaper(t, ns, false, rec).Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range finished {
		if exists(t, ns, id) {
			t.Errorf("event %d, finished long ago, was not deleted", id)
		}
		if got := rec.seen[eventsv1alpha1.ResourceName(id)]; len(got) != 1 || got[0] != "Expired" {
			t.Errorf("event %d: Events %v, want one Expired", id, got)
		}
	}
	for _, id := range kept {
		if !exists(t, ns, id) {
			t.Errorf("event %d was deleted, but the rule keeps it", id)
		}
	}
	if rep.Deleted != 2 || rep.Expired != 2 || rep.Changed != 0 {
		t.Errorf("report %+v, want 2 expired and deleted", rep)
	}
	// Event 5 changed an hour ago: not even read.
	if rep.Candidates != 7 {
		t.Errorf("%d candidates read, want 7 (all but the recently changed one)", rep.Candidates)
	}
}

// TestRetentionKeepsAnEventWrittenDuringTheSweep: a delivery that writes an
// expired event between the decision and the delete wins: the delete's
// precondition fails and the event stays.
func TestRetentionKeepsAnEventWrittenDuringTheSweep(t *testing.T) {
	ns := env.Namespace(t)
	event(t, ns, 1, time.Now().Add(-40*day), time.Now().Add(-60*day).Format(time.RFC3339))
	r := newReaper(t, ns, false, nil)
	r.beforeDelete = func(name string) {
		ev := &eventsv1alpha1.IngresseEvent{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ev); err != nil {
			t.Error(err)
			return
		}
		ev.Spec.Title = new("edited while the sweep decided")
		ev.Annotations[eventsv1alpha1.AnnotationReceivedAt] = time.Now().UTC().Format(time.RFC3339Nano)
		if err := env.Client.Update(context.Background(), ev); err != nil {
			t.Error(err)
		}
	}
	rep, err := r.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !exists(t, ns, 1) {
		t.Fatal("the event written during the sweep was deleted")
	}
	if rep.Changed != 1 || rep.Deleted != 0 {
		t.Errorf("report %+v, want 1 changed and none deleted", rep)
	}
}

// TestRetentionDryRunDeletesNothing: a dry run finds the same expired
// events and deletes none.
func TestRetentionDryRunDeletesNothing(t *testing.T) {
	ns := env.Namespace(t)
	finished, kept := seedRetention(t, ns)
	rec := &reasons{seen: map[string][]string{}}
	rep, err := newReaper(t, ns, true, rec).Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range append(finished, kept...) {
		if !exists(t, ns, id) {
			t.Errorf("a dry run deleted event %d", id)
		}
	}
	if rep.Expired != len(finished) || rep.Deleted != 0 {
		t.Errorf("report %+v, want %d expired and none deleted", rep, len(finished))
	}
	if len(rec.seen) != 0 {
		t.Errorf("a dry run recorded Events: %v", rec.seen)
	}
}
