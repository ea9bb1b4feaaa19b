// Command soak runs the manager binary under a steady load for a bounded
// time and checks that it gives back what it took: once the load stops
// and the controller has caught up, the heap in use (after a forced GC)
// and the goroutine count must be back at their baseline, within a
// tolerance, and every acknowledged delivery must be stored. It exits 1
// when not, so that a leak fails CI.
//
// The load is what a long day of Ingresse looks like, compressed: new
// versions of a fixed set of events (each one an update, a reconcile and a
// ConfigMap apply), duplicates, sales and postbacks (acknowledged and
// ignored), and a share of refused requests (wrong token, malformed body,
// wrong method), since leaks like to hide in error paths. Senders retry
// whatever is not 2xx, with a bounded backoff.
//
//	go run ./hack/soak                       # make soak: 3 minutes of load
//	go run ./hack/soak --duration 30s --warmup 10s --settle 5s   # make soak-short
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

const (
	namespace = "soak"
	token     = "tok-soak-5e2a9c71d03b"
	firstID   = 8_000_000
)

type options struct {
	duration, warmup      time.Duration
	settle                time.Duration
	rate                  float64
	senders, events       int
	heapTolerance         float64
	heapSlackMiB          float64
	goroutineSlack        float64
	refusedShare          float64
	duplicateShare        float64
	ignoredShare          float64
	sampleEvery           time.Duration
	convergeTimeout       time.Duration
	maxAttemptsPerRequest int
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 3*time.Minute, "how long the steady load runs")
	flag.DurationVar(&o.warmup, "warmup", 20*time.Second, "how long the same load runs before the baseline is taken")
	flag.DurationVar(&o.settle, "settle", 15*time.Second, "how long to wait after the load (and convergence) before measuring again")
	flag.Float64Var(&o.rate, "rate", 100, "deliveries per second, all senders together")
	flag.IntVar(&o.senders, "senders", 8, "concurrent senders")
	flag.IntVar(&o.events, "events", 300, "distinct events the load updates")
	flag.Float64Var(&o.heapTolerance, "heap-tolerance", 0.25, "allowed growth of the heap in use after the load, as a share of the baseline...")
	flag.Float64Var(&o.heapSlackMiB, "heap-slack-mib", 4, "...or in MiB, whichever is larger")
	flag.Float64Var(&o.goroutineSlack, "goroutine-slack", 10, "allowed goroutines above the baseline after the load (a leak per request or per event would be hundreds)")
	flag.Float64Var(&o.refusedShare, "refused", 0.05, "share of requests that are refused on purpose (bad token, body, method)")
	flag.Float64Var(&o.duplicateShare, "duplicates", 0.2, "share of deliveries that repeat one already sent")
	flag.Float64Var(&o.ignoredShare, "ignored", 0.05, "share of deliveries that are sales and postbacks")
	flag.DurationVar(&o.sampleEvery, "sample-every", 10*time.Second, "how often progress is printed")
	flag.DurationVar(&o.convergeTimeout, "converge-timeout", 3*time.Minute, "how long the controller may take to catch up after the load")
	flag.IntVar(&o.maxAttemptsPerRequest, "attempts", 50, "attempts per delivery before a sender gives up")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// run sets up the control plane and the manager, soaks it and reports
// whether it passed.
func run(ctx context.Context, o options) (bool, error) {
	fmt.Println("soak: starting the test control plane")
	env, err := testenv.Start()
	if err != nil {
		return false, err
	}
	defer func() { _ = env.Stop() }()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return false, fmt.Errorf("creating namespace %s: %w", namespace, err)
	}
	ports, err := testenv.FreePorts(1)
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return false, err
	}
	m, err := env.StartManager(testenv.ManagerOptions{
		Namespace: namespace, Tokens: []string{token}, Dir: dir,
		Args: []string{"--pprof-bind-address=127.0.0.1:" + strconv.Itoa(ports[0]), "--leader-elect"},
	})
	if err != nil {
		return false, err
	}
	defer m.Stop(30 * time.Second)
	pprofURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m.WaitReady(readyCtx); err != nil {
		return false, err
	}
	fmt.Printf("soak: manager pid %d, log %s\n", m.Pid(), m.LogPath)

	s := &soaker{o: o, m: m, env: env, client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.senders}},
		versions: make([]atomic.Int64, o.events), acked: make([]atomic.Int64, o.events), rng: rand.New(rand.NewPCG(1, 2))}

	// Warm up: every event once, then the load itself for a while, so
	// that the baseline already holds what the steady state holds for
	// good (informers, bounded caches such as the event correlator's,
	// pools); what grows after that grows with the load.
	fmt.Printf("soak: warming up with %d events and %s of load\n", o.events, o.warmup)
	for i := range o.events {
		if !s.deliver(s.eventDelivery(i, 1)) {
			return false, fmt.Errorf("warm-up delivery of event %d was never acknowledged", i)
		}
		s.versions[i].Store(1)
	}
	// A stale delivery: the receiver records an Event for it, which
	// starts its event broadcaster (about ten goroutines, for good) now
	// rather than at some point of the load.
	if !s.deliver(s.eventDelivery(0, 2)) || !s.deliver(s.eventDelivery(0, 1)) {
		return false, fmt.Errorf("warm-up deliveries of event 0 were never acknowledged")
	}
	s.versions[0].Store(2)
	s.load(ctx, o.warmup)
	if err := s.converge(ctx); err != nil {
		return false, err
	}
	time.Sleep(o.settle)
	base, err := s.measure(pprofURL)
	if err != nil {
		return false, err
	}
	fmt.Printf("soak: baseline: heap in use %s, goroutines %.0f, RSS %s\n", mib(base.heap), base.goroutines, mib(base.rss))
	baseStacks, err := goroutineStacks(pprofURL)
	if err != nil {
		return false, err
	}

	// The steady load.
	fmt.Printf("soak: %s of load at %.0f deliveries/s from %d senders\n", o.duration, o.rate, o.senders)
	s.resetCounts()
	s.load(ctx, o.duration)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	fmt.Println("soak: load done; waiting for the controller to catch up")
	if err := s.converge(ctx); err != nil {
		return false, err
	}
	lost := s.lost(ctx)
	s.client.CloseIdleConnections()
	time.Sleep(o.settle)
	after, err := s.measure(pprofURL)
	if err != nil {
		return false, err
	}

	afterStacks, err := goroutineStacks(pprofURL)
	if err != nil {
		return false, err
	}
	heapLimit := base.heap + max(o.heapTolerance*base.heap, o.heapSlackMiB*(1<<20))
	goroutineLimit := base.goroutines + o.goroutineSlack
	pass := after.heap <= heapLimit && after.goroutines <= goroutineLimit && lost == 0 && s.gaveUp.Load() == 0
	fmt.Printf(`
Soak (%s of load at %.0f requests/s, %d events)

| | baseline | after | limit |
|---|---:|---:|---:|
| heap in use (after GC) | %s | %s | %s |
| goroutines | %.0f | %.0f | %.0f |
| RSS | %s | %s | (printed only) |

| requests | deliveries | 2xx | refused on purpose | other non-2xx | given up | stored | lost |
|---:|---:|---:|---:|---:|---:|---:|---:|
| %d | %d | %d | %d | %d | %d | %d | %d |

`, o.duration, float64(s.requests.Load())/o.duration.Seconds(), o.events, mib(base.heap), mib(after.heap), mib(heapLimit), base.goroutines, after.goroutines, goroutineLimit,
		mib(base.rss), mib(after.rss), s.requests.Load(), s.deliveries.Load(), s.ok.Load(), s.refused.Load(), s.retried.Load(),
		s.gaveUp.Load(), s.stored.Load(), lost)
	if changed := changedStacks(baseStacks, afterStacks); changed != "" {
		fmt.Printf("Goroutines by stack, where the count changed from the baseline:\n\n%s\n", changed)
	}
	if pass {
		fmt.Println("soak: PASS")
	} else {
		fmt.Println("soak: FAIL: the heap, the goroutines or the deliveries did not come back (log: " + m.LogPath + ")")
	}
	return pass, nil
}

// soaker drives the load and keeps its books.
type soaker struct {
	o      options
	m      *testenv.Manager
	env    *testenv.Env
	client *http.Client

	// versions[i] is the newest version of event i sent; acked[i] the
	// newest acknowledged.
	versions, acked []atomic.Int64

	rngMu sync.Mutex
	rng   *rand.Rand

	requests, deliveries, ok, refused, retried, gaveUp, stored atomic.Int64
}

type request struct {
	body   []byte
	event  int // -1 when it is not an event
	v      int64
	token  string
	method string
	// refusal is the status a request refused on purpose must get.
	refusal int
}

func (s *soaker) eventDelivery(i int, v int64) request {
	return request{body: testenv.EventVersion(firstID+int64(i), int(v)), event: i, v: v, token: token, method: http.MethodPost}
}

// next picks the next request of the load.
func (s *soaker) next() request {
	s.rngMu.Lock()
	r, i := s.rng.Float64(), s.rng.IntN(s.o.events)
	bad := s.rng.IntN(3)
	s.rngMu.Unlock()
	switch {
	case r < s.o.refusedShare:
		switch bad {
		case 0:
			return request{body: examples.EventUpdate, event: -1, token: "not-the-token", method: http.MethodPost, refusal: http.StatusUnauthorized}
		case 1:
			return request{body: []byte(`{"webhook":"event-update","data":{"id":"x"}}`), event: -1, token: token, method: http.MethodPost, refusal: http.StatusBadRequest}
		default:
			return request{event: -1, token: token, method: http.MethodGet, refusal: http.StatusMethodNotAllowed}
		}
	case r < s.o.refusedShare+s.o.ignoredShare:
		return request{body: saleBody, event: -1, token: token, method: http.MethodPost}
	case r < s.o.refusedShare+s.o.ignoredShare+s.o.duplicateShare:
		return s.eventDelivery(i, s.versions[i].Load())
	default:
		return s.eventDelivery(i, s.versions[i].Add(1))
	}
}

// deliver sends r until it gets the answer it should: 2xx, or its
// refusal. It reports whether it did.
func (s *soaker) deliver(r request) bool {
	if r.refusal == 0 {
		s.deliveries.Add(1)
	}
	backoff := 50 * time.Millisecond
	for range s.o.maxAttemptsPerRequest {
		s.requests.Add(1)
		code := s.post(r)
		switch {
		case r.refusal != 0 && code == r.refusal:
			s.refused.Add(1)
			return true
		case r.refusal == 0 && code >= 200 && code < 300:
			s.ok.Add(1)
			if r.event >= 0 {
				for {
					cur := s.acked[r.event].Load()
					if r.v <= cur || s.acked[r.event].CompareAndSwap(cur, r.v) {
						break
					}
				}
			}
			return true
		}
		s.retried.Add(1)
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
	s.gaveUp.Add(1)
	return false
}

func (s *soaker) post(r request) int {
	req, err := http.NewRequest(r.method, s.m.ReceiverURL+"?token="+r.token, bytes.NewReader(r.body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// load sends at the configured rate for the configured duration.
func (s *soaker) load(ctx context.Context, duration time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	tick := time.NewTicker(time.Duration(float64(time.Second) / s.o.rate))
	defer tick.Stop()
	work := make(chan request, s.o.senders)
	var wg sync.WaitGroup
	for range s.o.senders {
		wg.Go(func() {
			for r := range work {
				s.deliver(r)
			}
		})
	}
	start := time.Now()
	progress := time.NewTicker(s.o.sampleEvery)
	defer progress.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-progress.C:
			if m, err := s.measure(""); err == nil {
				fmt.Printf("soak: %5.0fs  %6d requests  %6d 2xx  %4d retried  heap in use %s  goroutines %.0f  RSS %s\n",
					time.Since(start).Seconds(), s.requests.Load(), s.ok.Load(), s.retried.Load(), mib(m.heap), m.goroutines, mib(m.rss))
			}
		case <-tick.C:
			select {
			case work <- s.next():
			default: // senders saturated: the rate is what the receiver takes
			}
		}
	}
	close(work)
	wg.Wait()
}

// resetCounts starts the books afresh after the warm-up.
func (s *soaker) resetCounts() {
	for _, c := range []*atomic.Int64{&s.requests, &s.deliveries, &s.ok, &s.refused, &s.retried, &s.gaveUp, &s.stored} {
		c.Store(0)
	}
}

// converge waits until every event is Ready for its generation, holding
// the newest version sent.
func (s *soaker) converge(ctx context.Context) error {
	deadline := time.Now().Add(s.o.convergeTimeout)
	for {
		list := &eventsv1alpha1.IngresseEventList{}
		if err := s.env.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return err
		}
		behind := 0
		for _, ev := range list.Items {
			ready := meta.FindStatusCondition(ev.Status.Conditions, eventsv1alpha1.ConditionReady)
			if ready == nil || ready.Status != "True" || ev.Status.ObservedGeneration != ev.Generation {
				behind++
			}
		}
		if len(list.Items) == s.o.events && behind == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d of %d events stored, %d not Ready for their generation after %s", len(list.Items), s.o.events, behind, s.o.convergeTimeout)
		}
		time.Sleep(time.Second)
	}
}

// lost counts the events whose newest acknowledged version is not stored,
// and counts the stored ones.
func (s *soaker) lost(ctx context.Context) int {
	list := &eventsv1alpha1.IngresseEventList{}
	if err := s.env.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
		fmt.Println("soak: listing:", err)
		return -1
	}
	held := map[string]int64{}
	for _, ev := range list.Items {
		v, _ := strconv.ParseInt(strings.TrimPrefix(ptr.Deref(ev.Spec.Title, ""), "version "), 10, 64)
		held[ev.Name] = v
	}
	lost := 0
	for i := range s.o.events {
		name := eventsv1alpha1.ResourceName(firstID + int64(i))
		if want := s.acked[i].Load(); held[name] < want {
			lost++
			fmt.Printf("soak: %s holds version %d, version %d was acknowledged\n", name, held[name], want)
		} else {
			s.stored.Add(1)
		}
	}
	return lost
}

// sample is the manager's memory and goroutines at one moment.
type sample struct {
	heap, goroutines float64
	rss              float64
}

// measure scrapes the manager's metrics; with a pprof URL it first forces
// a garbage collection there (a heap profile with gc=1), so that the heap
// in use is what is live, not what the last GC left, and takes the lowest
// of three rounds.
func (s *soaker) measure(pprofURL string) (sample, error) {
	rounds := 1
	if pprofURL != "" {
		rounds = 3
		// Idle keep-alive connections hold a goroutine each in the
		// manager: close the load's, so that only what the manager keeps
		// on its own is counted.
		s.client.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
		time.Sleep(500 * time.Millisecond)
	}
	best := sample{heap: -1}
	for range rounds {
		if pprofURL != "" {
			resp, err := http.Get(pprofURL + "/debug/pprof/heap?gc=1")
			if err != nil {
				return sample{}, fmt.Errorf("forcing a GC: %w", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		samples, err := testenv.Metrics(s.m.MetricsURL)
		if err != nil {
			return sample{}, err
		}
		rss, _ := testenv.ProcessRSS(s.m.Pid())
		cur := sample{heap: testenv.Sum(samples, "go_memstats_heap_inuse_bytes"), goroutines: testenv.Sum(samples, "go_goroutines"), rss: float64(rss)}
		if best.heap < 0 || cur.heap < best.heap {
			best.heap, best.rss = cur.heap, cur.rss
		}
		if best.goroutines == 0 || cur.goroutines < best.goroutines {
			best.goroutines = cur.goroutines
		}
		if rounds > 1 {
			time.Sleep(time.Second)
		}
	}
	return best, nil
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

var saleBody = []byte(`{"webhook":"sale","data":{"transactionId":"T-1","buyer":{"name":"Soak Buyer","email":"buyer@example.com"}},"timestamp":"2019-03-12T19:32:46Z"}`)

// goroutineStacks counts the manager's goroutines by stack, from
// /debug/pprof/goroutine?debug=1.
func goroutineStacks(pprofURL string) (map[string]int, error) {
	resp, err := http.Get(pprofURL + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return nil, fmt.Errorf("reading the goroutine profile: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	stacks := map[string]int{}
	for block := range strings.SplitSeq(string(b), "\n\n") {
		head, frames, ok := strings.Cut(block, "\n")
		count, _, _ := strings.Cut(head, " @ ")
		n, err := strconv.Atoi(count)
		if !ok || err != nil {
			continue
		}
		var funcs []string
		for line := range strings.SplitSeq(frames, "\n") {
			if fields := strings.Fields(line); len(fields) >= 3 && fields[0] == "#" {
				funcs = append(funcs, fields[2])
			}
		}
		stacks[strings.Join(funcs, " <- ")] += n
	}
	return stacks, nil
}

// changedStacks lists the stacks whose goroutine count changed, the
// largest growth first.
func changedStacks(before, after map[string]int) string {
	type change struct {
		stack         string
		before, after int
	}
	var changes []change
	for stack, n := range after {
		if n != before[stack] {
			changes = append(changes, change{stack, before[stack], n})
		}
	}
	for stack, n := range before {
		if _, ok := after[stack]; !ok {
			changes = append(changes, change{stack, n, 0})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].after-changes[i].before > changes[j].after-changes[j].before })
	var b strings.Builder
	for _, c := range changes {
		fmt.Fprintf(&b, "  %+d (%d -> %d)  %s\n", c.after-c.before, c.before, c.after, c.stack)
	}
	return b.String()
}
