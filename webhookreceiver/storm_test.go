package webhookreceiver

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// writeCounter counts the writes the API server accepted, per object.
type writeCounter struct {
	mu     sync.Mutex
	writes map[string]int
}

func (w *writeCounter) funcs() *interceptor.Funcs {
	w.writes = map[string]int{}
	count := func(obj client.Object, err error) error {
		if err == nil {
			w.mu.Lock()
			w.writes[obj.GetName()]++
			w.mu.Unlock()
		}
		return err
	}
	return &interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return count(obj, c.Create(ctx, obj, opts...))
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return count(obj, c.Update(ctx, obj, opts...))
		},
	}
}

// TestConcurrentStormConverges delivers several versions of many events,
// shuffled and duplicated, from many senders at once, through two
// replicas. Every event must end at its newest version, and every write
// must be a real change: the API server accepted exactly as many writes as
// it counted generations, and no more than the versions.
func TestConcurrentStormConverges(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	writes := &writeCounter{}
	funcs := writes.funcs()
	replicas := []*replica{
		newReplica(t, ns, replicaConfig{client: funcs}),
		newReplica(t, ns, replicaConfig{client: funcs}),
	}

	const events, versions, senders = 50, 4, 32
	type job struct {
		name string
		body []byte
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var jobs []job
	for e := range events {
		id := int64(9000 + e)
		for v := 1; v <= versions; v++ {
			body := versionOf(t, id, v).bytes(t)
			for range 1 + rng.IntN(3) {
				jobs = append(jobs, job{eventsv1alpha1.ResourceName(id), body})
			}
		}
	}
	rng.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })

	var mu sync.Mutex
	outcomes := map[string]map[string]int{} // name -> outcome -> answers
	queue := make(chan job)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for j := range queue {
				// A sender that retries on 503, as the answer asks.
				for attempt := 0; ; attempt++ {
					rec := replicas[(s+attempt)%len(replicas)].post(t, j.body)
					if rec.Code == http.StatusServiceUnavailable && attempt < 50 {
						time.Sleep(20 * time.Millisecond)
						continue
					}
					var a answerBody
					if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || rec.Code >= 300 {
						t.Errorf("%s: answer %d %s", j.name, rec.Code, rec.Body)
						break
					}
					mu.Lock()
					if outcomes[j.name] == nil {
						outcomes[j.name] = map[string]int{}
					}
					outcomes[j.name][a.Status]++
					mu.Unlock()
					break
				}
			}
		})
	}
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	wg.Wait()
	if t.Failed() {
		return
	}

	newest := versionOf(t, 0, versions)
	for e := range events {
		name := eventsv1alpha1.ResourceName(int64(9000 + e))
		obj := replicas[0].get(t, name)
		if obj == nil {
			t.Errorf("%s was never stored", name)
			continue
		}
		if strOf(obj.Spec.Title) != "version 4" || strOf(obj.Spec.UpdatedAt) != newest.data()["updatedAt"] ||
			obj.Annotations[eventsv1alpha1.AnnotationWebhookTimestamp] != mustTime(t, newest["timestamp"].(string)) {
			t.Errorf("%s ended at %q (updatedAt %s, timestamp %s), want version 4", name, strOf(obj.Spec.Title),
				strOf(obj.Spec.UpdatedAt), obj.Annotations[eventsv1alpha1.AnnotationWebhookTimestamp])
		}
		o := outcomes[name]
		if o[outcomeCreated] != 1 {
			t.Errorf("%s: %d created answers, want 1", name, o[outcomeCreated])
		}
		acknowledged := o[outcomeCreated] + o[outcomeUpdated]
		writes.mu.Lock()
		accepted := writes.writes[name]
		writes.mu.Unlock()
		if accepted != acknowledged || int64(accepted) != obj.Generation || obj.Generation > versions {
			t.Errorf("%s: %d writes accepted, %d answered created/updated, generation %d (at most %d versions); outcomes %v",
				name, accepted, acknowledged, obj.Generation, versions, o)
		}
	}
	total := 0
	for _, o := range outcomes {
		for _, n := range o {
			total += n
		}
	}
	if total != len(jobs) {
		t.Errorf("%d answers for %d deliveries", total, len(jobs))
	}
	t.Logf("%d deliveries of %d events: outcomes %v", len(jobs), events, summarise(outcomes))
}

func summarise(outcomes map[string]map[string]int) map[string]int {
	sum := map[string]int{}
	for _, o := range outcomes {
		for k, n := range o {
			sum[k] += n
		}
	}
	return sum
}

// mustTime normalises an envelope timestamp as the receiver annotates it.
func mustTime(t testing.TB, s string) string {
	t.Helper()
	ts, err := eventsv1alpha1.ParseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return ts.UTC().Format(time.RFC3339Nano)
}
