package webhookreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// scale picks the short figure, or the long one for the full runs behind
// docs/reliability.md's figures (INGRESSE_RELIABILITY=long, make reliability).
func scale(short, long int) int {
	if os.Getenv("INGRESSE_RELIABILITY") == "long" {
		return long
	}
	return short
}

// chaos injects a random mix of API failures into every call of a
// replica's clients, from a seeded generator: TestAPIFailuresAreNeverAcknowledged
// plays each failure alone; this plays them together, under load, on
// several replicas at once.
type chaos struct {
	mu  sync.Mutex
	rng *rand.Rand
	// on turns the injection on and off.
	on atomic.Bool
	// injected counts the faults injected, by kind.
	injected sync.Map // string -> *atomic.Int64
}

func newChaos(seed uint64) *chaos {
	c := &chaos{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	c.on.Store(true)
	return c
}

// roll returns true with probability p.
func (c *chaos) roll(p float64) bool {
	if !c.on.Load() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rng.Float64() < p
}

func (c *chaos) count(kind string) {
	n, _ := c.injected.LoadOrStore(kind, &atomic.Int64{})
	n.(*atomic.Int64).Add(1)
}

func (c *chaos) total() (int, map[string]int64) {
	sum, kinds := 0, map[string]int64{}
	c.injected.Range(func(k, v any) bool {
		kinds[k.(string)] = v.(*atomic.Int64).Load()
		sum += int(kinds[k.(string)])
		return true
	})
	return sum, kinds
}

var ingresseEventsGR = schema.GroupResource{Group: eventsv1alpha1.GroupVersion.Group, Resource: "ingresseevents"}

// before is a failure instead of the call (nothing reaches the API server).
func (c *chaos) before(ctx context.Context, write bool) error {
	switch {
	case c.roll(0.06):
		c.count("unavailable")
		return apierrors.NewServiceUnavailable("injected: etcd is down")
	case c.roll(0.03):
		c.count("timeout")
		<-ctx.Done()
		return ctx.Err()
	case c.roll(0.03):
		c.count("throttled")
		return apierrors.NewTooManyRequests("injected: slow down", 1)
	case write && c.roll(0.08):
		// Another writer got there first (or so the API server says).
		c.count("conflict")
		return apierrors.NewConflict(ingresseEventsGR, "", errors.New("injected: the object has been modified"))
	}
	return nil
}

// after loses the answer of a call that reached the API server.
func (c *chaos) after(err error) error {
	if err == nil && c.roll(0.05) {
		c.count("lost-answer")
		return apierrors.NewTimeoutError("injected: the answer was lost", 1)
	}
	return err
}

func (c *chaos) funcs() *interceptor.Funcs {
	return &interceptor.Funcs{
		Get: func(ctx context.Context, cl client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if err := c.before(ctx, false); err != nil {
				return err
			}
			return cl.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := c.before(ctx, true); err != nil {
				if apierrors.IsConflict(err) {
					c.count("already-exists")
					return apierrors.NewAlreadyExists(ingresseEventsGR, obj.GetName())
				}
				return err
			}
			return c.after(cl.Create(ctx, obj, opts...))
		},
		Update: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := c.before(ctx, true); err != nil {
				return err
			}
			return c.after(cl.Update(ctx, obj, opts...))
		},
	}
}

// versionLoad is every version of events events, each delivered one to
// three times, shuffled.
func versionLoad(t testing.TB, firstID int64, events, versions int, seed uint64) []testenv.Delivery {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	out := testenv.VersionLoad(rng, firstID, events, versions, func(id int64, v int) []byte { return versionOf(t, id, v).bytes(t) })
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// storedVersionOf is the version number stored for event id ("version N"
// in its title), or 0 when nothing is stored.
func storedVersionOf(t testing.TB, ns string, id int64) int {
	t.Helper()
	obj := &eventsv1alpha1.IngresseEvent{}
	err := controlPlane(t).Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: eventsv1alpha1.ResourceName(id)}, obj)
	if apierrors.IsNotFound(err) {
		return 0
	}
	if err != nil {
		t.Errorf("reading event %d: %v", id, err)
		return -1
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strOf(obj.Spec.Title), "version "))
	if err != nil {
		t.Errorf("event %d holds %q, not a version", id, strOf(obj.Spec.Title))
		return -1
	}
	return n
}

// TestInjectedFaultsNeverAcknowledgeUnstored delivers every version of
// many events, shuffled and duplicated, through two replicas whose API
// clients fail at random (unavailable, timeouts, throttling, write
// conflicts, creates that find the object there, answers lost after the
// write landed). Senders retry every non-2xx answer, as the answer asks.
// Right after each 2xx the API server must hold that version or a newer
// one (a 2xx is a promise, not a hope); at the end every event holds its
// newest version. The lost deliveries are counted, and must be none.
func TestInjectedFaultsNeverAcknowledgeUnstored(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	c := newChaos(20261127)
	funcs := c.funcs()
	opts := func(o *Options) { o.RequestTimeout = time.Second }
	replicas := []*replica{
		newReplica(t, ns, replicaConfig{client: funcs, reader: funcs, opts: opts}),
		newReplica(t, ns, replicaConfig{client: funcs, reader: funcs, opts: opts}),
	}
	const versions, senders, attempts = 4, 16, 40
	events := scale(60, 500)
	load := versionLoad(t, 30000, events, versions, 3)

	var requests, acked, lost atomic.Int64
	var mu sync.Mutex
	outcomes := map[string]int{}
	queue := make(chan testenv.Delivery)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for d := range queue {
				ok := false
				for attempt := range attempts {
					requests.Add(1)
					rec := replicas[(s+attempt)%len(replicas)].post(t, d.Body)
					if rec.Code >= 300 {
						if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
							t.Errorf("event %d version %d: answer %d %s, want 2xx or 503 with Retry-After", d.ID, d.V, rec.Code, rec.Body)
							return
						}
						time.Sleep(time.Duration(1+attempt) * 5 * time.Millisecond)
						continue
					}
					ok = true
					acked.Add(1)
					var a answerBody
					_ = json.Unmarshal(rec.Body.Bytes(), &a)
					mu.Lock()
					outcomes[a.Status]++
					mu.Unlock()
					// The promise: stored now, this version or newer.
					if got := storedVersionOf(t, ns, d.ID); got < d.V {
						lost.Add(1)
						t.Errorf("event %d version %d answered %d %s, but the API server holds version %d", d.ID, d.V, rec.Code, a.Status, got)
					}
					break
				}
				if !ok {
					t.Errorf("event %d version %d: no 2xx in %d attempts", d.ID, d.V, attempts)
				}
			}
		})
	}
	for _, d := range load {
		queue <- d
	}
	close(queue)
	wg.Wait()
	c.on.Store(false)

	for e := range events {
		id := int64(30000 + e)
		if got := storedVersionOf(t, ns, id); got != versions {
			t.Errorf("event %d ended at version %d, want %d", id, got, versions)
		}
	}
	faults, kinds := c.total()
	if faults < len(load)/10 {
		t.Errorf("only %d faults injected for %d deliveries: the test proves little", faults, len(load))
	}
	t.Logf("%d deliveries, %d requests, %d faults injected %v, outcomes %v, lost %d", len(load), requests.Load(), faults, kinds, outcomes, lost.Load())
	testenv.Report(testenv.Row{
		Test: "API client faults, 2 replicas (webhookreceiver)", Faults: faults, Sent: len(load), Requests: int(requests.Load()),
		Acked: int(acked.Load()), Stored: int(acked.Load() - lost.Load()), Lost: int(lost.Load()),
	})
}

// TestFloodHoldsTheInFlightBound sends 2,000 requests from 256 senders
// at once over real connections to a receiver that handles at most 32 at
// a time. The receiver's in-flight gauge, sampled all along, and the
// number of its API calls running at once, counted at the client, never
// exceed the bound; every request beyond it is answered 503 with
// Retry-After at once; everything answered 2xx is stored. The process's
// memory before and after is printed, not judged.
func TestFloodHoldsTheInFlightBound(t *testing.T) {
	const bound, senders = 32, 256
	requests := int64(scale(2000, 20000))
	ns := controlPlane(t).Namespace(t)
	var running, highWater atomic.Int64
	slow := &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			hw := highWater.Load()
			if n <= hw || highWater.CompareAndSwap(hw, n) {
				break
			}
		}
		// Slow enough that requests pile up against the bound.
		time.Sleep(5 * time.Millisecond)
		return c.Get(ctx, key, obj, opts...)
	}}
	r := newReplica(t, ns, replicaConfig{reader: slow, opts: func(o *Options) { o.MaxInFlight = bound }})
	url := "http://" + r.srv.listenAddr() + webhookPath + "?token=" + testToken
	rssBefore, _ := testenv.ProcessRSS(os.Getpid())
	start := time.Now()

	stop := make(chan struct{})
	var gaugeMax atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if v := int64(metricValue(t, r.reg, "ingresse_receiver_in_flight_requests", nil)); v > gaugeMax.Load() {
				gaugeMax.Store(v)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()

	transport := &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders}
	defer transport.CloseIdleConnections()
	httpc := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	var next atomic.Int64
	var ok2xx, busy atomic.Int64
	var mu sync.Mutex
	acked := map[int64][]int{} // event id -> versions answered 2xx
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= requests {
					return
				}
				id := 40000 + i/4
				v := int(i%4) + 1
				resp, err := httpc.Post(url, "application/json", bytes.NewReader(versionOf(t, id, v).bytes(t)))
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusServiceUnavailable:
					if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "too many webhooks in flight") {
						t.Errorf("503 without Retry-After or for another reason: %s", body)
					}
					busy.Add(1)
				case resp.StatusCode < 300:
					ok2xx.Add(1)
					mu.Lock()
					acked[id] = append(acked[id], v)
					mu.Unlock()
				default:
					t.Errorf("request %d: %d %s", i, resp.StatusCode, body)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	rssAfter, _ := testenv.ProcessRSS(os.Getpid())

	if hw := highWater.Load(); hw > bound {
		t.Errorf("%d API calls ran at once, more than the %d deliveries allowed in flight", hw, bound)
	}
	if g := gaugeMax.Load(); g > bound {
		t.Errorf("the in-flight gauge reached %d, over the bound %d", g, bound)
	}
	if busy.Load() == 0 {
		t.Error("no request was turned away: the flood did not reach the bound")
	}
	// The log gets a sample of the turned-away deliveries, not a line each.
	if lines := strings.Count(r.logs.String(), "too many in flight"); lines > refusalLogBurst+int(time.Since(start).Seconds()*refusalLogsPerSecond)+1 {
		t.Errorf("%d log lines for %d deliveries turned away", lines, busy.Load())
	}
	if n := metricValue(t, r.reg, "ingresse_receiver_in_flight_requests", nil); n != 0 {
		t.Errorf("in-flight gauge %v after the flood", n)
	}
	lost := 0
	for id, vs := range acked {
		got := storedVersionOf(t, ns, id)
		for _, v := range vs {
			if got < v {
				lost++
				t.Errorf("event %d: version %d was answered 2xx, the API server holds %d", id, v, got)
			}
		}
	}
	t.Logf("flood: %d requests from %d senders, bound %d: %d 2xx, %d 503; in flight at most %d (gauge) / %d (API calls); RSS %s -> %s",
		requests, senders, bound, ok2xx.Load(), busy.Load(), gaugeMax.Load(), highWater.Load(), mib(rssBefore), mib(rssAfter))
	testenv.Report(testenv.Row{
		Test: fmt.Sprintf("flood, 256 senders, bound %d, max in flight %d (webhookreceiver)", bound, max(gaugeMax.Load(), highWater.Load())),
		Sent: int(requests), Requests: int(requests), Acked: int(ok2xx.Load()), Stored: int(ok2xx.Load()) - lost, Lost: lost,
	})
}

// mib formats bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
