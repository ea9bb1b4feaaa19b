package main

// The reliability suite of the shipped binary: bin/manager runs as its own
// OS process against the test control plane while the API server and etcd
// are frozen and thawed, while the manager is killed with SIGKILL and
// restarted, while the leader of two is killed, and under a flood. Senders
// behave as Ingresse must be assumed to: they retry every answer that is
// not 2xx (with a bounded, capped backoff) and duplicate and reorder
// deliveries. Every test counts what it sent, what was acknowledged and
// what of that the API server holds, and reports it to the summary that
// TestMain prints. Every manager runs with debug logs, which are searched
// for tokens and personal data when its test ends.
//
// INGRESSE_RELIABILITY=long runs the larger loads behind docs/reliability.md's
// figures; the default keeps `make test` short.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// longRun reports whether the full-size loads were asked for.
func longRun() bool { return os.Getenv("INGRESSE_RELIABILITY") == "long" }

// scale picks the short or the long figure.
func scale(short, long int) int {
	if longRun() {
		return long
	}
	return short
}

// Personal data of the sale and postback webhooks the suite sends: none
// of it may reach a log.
var personalData = []string{"Maria Aparecida Silva", "maria.aparecida@example.com", "123.456.789-09", "+55 11 98765-4321", "TX-8a7f3c21"}

var (
	saleBody = []byte(`{"webhook":"sale","data":{"transactionId":"TX-8a7f3c21","status":"approved","buyer":{"name":"Maria Aparecida Silva",` +
		`"email":"maria.aparecida@example.com","document":"123.456.789-09","phone":"+55 11 98765-4321"},"tickets":[{"id":1,"code":"QR-1"}]},` +
		`"timestamp":"2019-03-12T19:32:46Z"}`)
	postbackBody = []byte(`{"webhook":"postback","data":{"transactionId":"TX-8a7f3c21","status":"refunded","date":"2019-03-12T19:40:00Z",` +
		`"email":"maria.aparecida@example.com"},"timestamp":"2019-03-12T19:40:01Z"}`)
)

// startManagerFor starts a manager for one reliability test, with debug
// logs and the token, stops it when the test ends, and then searches its
// log for every token and every piece of personal data.
func startManagerFor(t *testing.T, ns string, tokens []string, opts testenv.ManagerOptions) *testenv.Manager {
	t.Helper()
	opts.Namespace = ns
	opts.Tokens = tokens
	opts.Args = append([]string{"--zap-log-level=debug", "--receiver-shutdown-delay=0s"}, opts.Args...)
	m, err := env.StartManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop(30 * time.Second)
		checkLogClean(t, m, tokens)
		if t.Failed() {
			t.Logf("manager log: %s", m.LogPath)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkLogClean fails the test when the manager's log holds a token or
// personal data.
func checkLogClean(t *testing.T, m *testenv.Manager, tokens []string) {
	t.Helper()
	log := m.Log()
	if !strings.Contains(log, `"outcome"`) {
		t.Errorf("the manager logged no request at all: is the log captured? (%s)", m.LogPath)
	}
	for _, secret := range append(append([]string{}, tokens...), personalData...) {
		if strings.Contains(log, secret) {
			t.Errorf("the manager's log holds %q (%s)", secret, m.LogPath)
		}
	}
}

// eventBody is version v of event id (testenv.EventVersion).
func eventBody(_ testing.TB, id int64, v int) []byte { return testenv.EventVersion(id, v) }

// delivery is one delivery of a load: version V of event ID (V 0 is a
// webhook that is acknowledged and not stored).
type delivery = testenv.Delivery

// loadOf is every version of events events from firstID, each delivered
// one to three times, shuffled, with a sale and a postback every 100.
func loadOf(t testing.TB, firstID int64, events, versions int, seed uint64) []delivery {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	out := testenv.VersionLoad(rng, firstID, events, versions, func(id int64, v int) []byte { return eventBody(t, id, v) })
	for i := 0; i < len(out)/100; i++ {
		out = append(out, delivery{Body: saleBody}, delivery{Body: postbackBody})
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// ledger is what a load's senders saw.
type ledger struct {
	requests, acked, refused atomic.Int64
	mu                       sync.Mutex
	ackedVersions            map[int64][]int // event id -> versions answered 2xx
	codes                    map[int]int     // every answer's status code; 0 is a connection error
}

func newLedger() *ledger {
	return &ledger{ackedVersions: map[int64][]int{}, codes: map[int]int{}}
}

// sender posts deliveries to url, retrying every answer that is not 2xx,
// and connection errors, with a capped exponential backoff, at most
// attempts times and never past its deadline, so that a receiver that
// never recovers fails the test instead of hanging it.
type sender struct {
	url      func() string
	token    string
	attempts int
	deadline time.Time
	client   *http.Client
}

func newSender(url func() string, token string, attempts int) *sender {
	return &sender{url: url, token: token, attempts: attempts, deadline: time.Now().Add(time.Duration(scale(5, 15)) * time.Minute),
		client: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		}}
}

// deliver sends d until it is answered 2xx or the attempts run out, and
// records every answer in l. It reports whether d was acknowledged.
func (s *sender) deliver(l *ledger, d delivery) bool {
	backoff := 20 * time.Millisecond
	for range s.attempts {
		if time.Now().After(s.deadline) {
			break
		}
		l.requests.Add(1)
		code := s.post(d.Body)
		l.mu.Lock()
		l.codes[code]++
		l.mu.Unlock()
		if code >= 200 && code < 300 {
			l.acked.Add(1)
			if d.V > 0 {
				l.mu.Lock()
				l.ackedVersions[d.ID] = append(l.ackedVersions[d.ID], d.V)
				l.mu.Unlock()
			}
			return true
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 500*time.Millisecond)
	}
	l.refused.Add(1)
	return false
}

func (s *sender) post(body []byte) int {
	req, err := http.NewRequest(http.MethodPost, s.url(), bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// run sends the load from senders goroutines; progress is called after
// each delivery is done with the number done so far.
func (s *sender) run(l *ledger, load []delivery, senders int, progress func(done int)) {
	queue := make(chan delivery)
	var done atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for d := range queue {
				s.deliver(l, d)
				if progress != nil {
					progress(int(done.Add(1)))
				}
			}
		})
	}
	for _, d := range load {
		queue <- d
	}
	close(queue)
	wg.Wait()
}

// account compares what was acknowledged with what the API server holds:
// every acknowledged version must be stored or superseded by a newer one,
// and every event must hold exactly its newest version, as it was sent.
// It returns how many acknowledged deliveries were stored and how many
// were lost.
func account(t *testing.T, ns string, l *ledger, firstID int64, events, versions int) (stored, lost int) {
	t.Helper()
	ctx := context.Background()
	list := &eventsv1alpha1.IngresseEventList{}
	if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	byName := map[string]*eventsv1alpha1.IngresseEvent{}
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	for e := range events {
		id := firstID + int64(e)
		obj := byName[eventsv1alpha1.ResourceName(id)]
		held := 0
		if obj != nil {
			held, _ = strconv.Atoi(strings.TrimPrefix(ptr.Deref(obj.Spec.Title, ""), "version "))
		}
		for _, v := range l.ackedVersions[id] {
			if held >= v {
				stored++
			} else {
				lost++
				t.Errorf("event %d: version %d was acknowledged, the API server holds version %d", id, v, held)
			}
		}
		if obj == nil || held != versions {
			t.Errorf("event %d holds version %d, want its newest, %d", id, held, versions)
			continue
		}
		// The newest version, as it was sent.
		var sent struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(eventBody(t, id, versions), &sent); err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(obj.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if ok, where := testenv.JSONEqual(sent.Data, got); !ok {
			t.Errorf("event %d differs from its newest version at %s", id, where)
		}
	}
	return stored, lost
}

// sent counts the deliveries of a load that are events (not the sales and
// postbacks).
func sent(load []delivery) (events int) {
	for _, d := range load {
		if d.V > 0 {
			events++
		}
	}
	return events
}

// TestAPIServerOutagesLoseNothing freezes kube-apiserver, and later etcd,
// while senders deliver every version of many events, shuffled and
// duplicated, to the manager binary, retrying whatever is not 2xx. During
// each outage the receiver answers 503 and nothing is acknowledged that is
// not stored; afterwards every acknowledged delivery is stored (or
// superseded by a newer version) with its content, every event holds its
// newest version, and every event converges in the controller too. The
// number of lost deliveries is printed and must be 0.
func TestAPIServerOutagesLoseNothing(t *testing.T) {
	ns := env.Namespace(t)
	const token = "tok-outage-6b1e93f0c2d4"
	m := startManagerFor(t, ns, []string{token}, testenv.ManagerOptions{Args: []string{"--receiver-request-timeout=1s"}})
	events, versions := scale(250, 1000), 4
	freeze := time.Duration(scale(3, 8)) * time.Second
	const firstID = 100000
	load := loadOf(t, firstID, events, versions, 1)

	// The outages are driven by progress, so that load runs through both:
	// kube-apiserver at 20% of the deliveries, etcd at 55%.
	type outage struct {
		at        float64
		component testenv.Component
	}
	outages := []outage{{0.20, testenv.APIServer}, {0.55, testenv.Etcd}}
	var next atomic.Int32
	var injected atomic.Int32
	outageDone := make(chan error, len(outages))
	trigger := func(done int) {
		i := int(next.Load())
		if i >= len(outages) || float64(done) < outages[i].at*float64(len(load)) || !next.CompareAndSwap(int32(i), int32(i+1)) {
			return
		}
		go func() {
			thaw, err := env.Freeze(outages[i].component)
			if err != nil {
				outageDone <- err
				return
			}
			// Whatever happens to the test, the control plane is thawed.
			t.Cleanup(func() { _ = thaw() })
			injected.Add(1)
			t.Logf("froze %s for %s at %d of %d deliveries", outages[i].component, freeze, done, len(load))
			time.Sleep(freeze)
			outageDone <- thaw()
		}()
	}
	l := newLedger()
	s := newSender(func() string { return m.ReceiverURL }, token, 200)
	s.run(l, load, 16, trigger)
	for range outages {
		if err := <-outageDone; err != nil {
			t.Fatal(err)
		}
	}
	if l.refused.Load() > 0 {
		t.Errorf("%d deliveries were never acknowledged, retried %d times each", l.refused.Load(), s.attempts)
	}
	if l.codes[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no delivery was answered 503: the outages did not reach the receiver (answers %v)", l.codes)
	}
	stored, lost := account(t, ns, l, firstID, events, versions)
	convergeAll(t, ns, firstID, events, versions, 2*time.Minute)
	t.Logf("%d deliveries (%d events x %d versions, duplicated, and %d sales and postbacks), %d requests, answers %v, %d outages of %s: %d acknowledged, %d stored, %d LOST",
		len(load), events, versions, len(load)-sent(load), l.requests.Load(), l.codes, injected.Load(), freeze, l.acked.Load(), stored, lost)
	testenv.Report(testenv.Row{
		Test: "kube-apiserver and etcd frozen during load (binary)", Faults: int(injected.Load()), Sent: sent(load),
		Requests: int(l.requests.Load()), Acked: stored + lost, Stored: stored, Lost: lost,
	})
}

// convergeAll waits until every event of a load has converged on its
// newest version.
func convergeAll(t *testing.T, ns string, firstID int64, events, versions int, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	title := "version " + strconv.Itoa(versions)
	deadline := time.Now().Add(timeout)
	for e := range events {
		id := firstID + int64(e)
		for {
			err := converged(ctx, ns, eventsv1alpha1.ResourceName(id), title)()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not converged after %s: %v", timeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// leaderElection are the manager flags of a short lease, so that a
// takeover after a kill happens within the test.
var leaderElection = []string{
	"--leader-elect",
	"--leader-election-lease-duration=4s",
	"--leader-election-renew-deadline=3s",
	"--leader-election-retry-period=500ms",
}

// TestManagerKilledMidLoadConverges kills the manager (SIGKILL: no
// shutdown, no lease released, reconciles cut off half way) while senders
// deliver, and starts a new one on the same address. The senders' retries
// carry the deliveries over the gap. Every acknowledged delivery is stored
// and every event converges: Ready for its generation, ConfigMap content
// matching the status hash.
func TestManagerKilledMidLoadConverges(t *testing.T) {
	ns := env.Namespace(t)
	const token = "tok-kill-0d5c7a9e31f8"
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	receiverAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	start := func() *testenv.Manager {
		return startManagerFor(t, ns, []string{token}, testenv.ManagerOptions{ReceiverAddr: receiverAddr, Args: leaderElection})
	}
	m := start()
	events, versions := scale(150, 600), 3
	const firstID = 200000
	load := loadOf(t, firstID, events, versions, 2)

	var killed atomic.Bool
	restarted := make(chan *testenv.Manager, 1)
	trigger := func(done int) {
		if done < len(load)*2/5 || !killed.CompareAndSwap(false, true) {
			return
		}
		go func() {
			if err := m.Signal(syscall.SIGKILL); err != nil {
				t.Error(err)
			}
			if _, err := m.Wait(30 * time.Second); err != nil {
				t.Error(err)
			}
			t.Logf("killed the manager at %d of %d deliveries", done, len(load))
			restarted <- start()
		}()
	}
	l := newLedger()
	s := newSender(func() string { return "http://" + receiverAddr + "/webhooks/ingresse" }, token, 200)
	s.run(l, load, 16, trigger)
	if !killed.Load() {
		t.Fatal("the manager was never killed")
	}
	second := <-restarted
	if l.codes[0] == 0 {
		t.Errorf("no sender saw the manager gone (answers %v): the kill did not happen under load", l.codes)
	}
	if l.refused.Load() > 0 {
		t.Errorf("%d deliveries were never acknowledged", l.refused.Load())
	}
	stored, lost := account(t, ns, l, firstID, events, versions)
	convergeAll(t, ns, firstID, events, versions, 2*time.Minute)
	t.Logf("%d deliveries, %d requests, answers %v; SIGKILL and restart (pid %d): %d acknowledged, %d stored, %d LOST",
		len(load), l.requests.Load(), l.codes, second.Pid(), l.acked.Load(), stored, lost)
	testenv.Report(testenv.Row{
		Test: "manager SIGKILLed mid-load and restarted (binary)", Faults: 1, Sent: sent(load),
		Requests: int(l.requests.Load()), Acked: stored + lost, Stored: stored, Lost: lost,
	})
}

// leaderElectionID is the Lease the managers elect their leader with.
const leaderElectionID = "ingresse-operator.events.ingresse.com"

// isLeader reports whether the manager says it leads, by its metrics.
func isLeader(m *testenv.Manager) bool {
	samples, err := testenv.Metrics(m.MetricsURL)
	if err != nil {
		return false
	}
	return testenv.Sum(samples, "leader_election_master_status", `name="`+leaderElectionID+`"`) == 1
}

// TestLeaderFailover runs two managers with leader election, kills the
// leader with SIGKILL, and proves the other takes over reconciling: an
// event delivered after the kill gets its ConfigMap and Ready. Both serve
// the receiver throughout: a sender delivers to the survivor all along the
// failover, and every one of those deliveries is answered 2xx at the first
// attempt.
func TestLeaderFailover(t *testing.T) {
	ns := env.Namespace(t)
	const token = "tok-failover-47c2e8a1b9d3"
	a := startManagerFor(t, ns, []string{token}, testenv.ManagerOptions{Args: leaderElection})
	b := startManagerFor(t, ns, []string{token}, testenv.ManagerOptions{Args: leaderElection})
	var leader, survivor *testenv.Manager
	deadline := time.Now().Add(time.Minute)
	for leader == nil {
		switch la, lb := isLeader(a), isLeader(b); {
		case la && lb:
			t.Fatal("both managers say they lead")
		case la:
			leader, survivor = a, b
		case lb:
			leader, survivor = b, a
		case time.Now().After(deadline):
			t.Fatal("no manager became the leader")
		default:
			time.Sleep(100 * time.Millisecond)
		}
	}

	const firstID = 300000
	l := newLedger()
	first := newSender(func() string { return survivor.ReceiverURL }, token, 1) // no retries: every delivery must succeed
	toLeader := newSender(func() string { return leader.ReceiverURL }, token, 1)
	// Both serve before the kill.
	if !toLeader.deliver(l, delivery{ID: firstID, V: 1, Body: eventBody(t, firstID, 1)}) || !first.deliver(l, delivery{ID: firstID + 1, V: 1, Body: eventBody(t, firstID+1, 1)}) {
		t.Fatalf("a replica refused a delivery before the failover: %v", l.codes)
	}

	// The survivor keeps receiving, one new event after another, until
	// well after it has taken over.
	stop := make(chan struct{})
	var delivered atomic.Int64
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		for i := int64(2); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := firstID + i
			if first.deliver(l, delivery{ID: id, V: 1, Body: eventBody(t, id, 1)}) {
				delivered.Store(i + 1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	if err := leader.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	killedAt := delivered.Load()
	// An event created after the kill: only a new leader can reconcile it.
	afterKill := int64(firstID + 999)
	if !first.deliver(l, delivery{ID: afterKill, V: 1, Body: eventBody(t, afterKill, 1)}) {
		t.Fatalf("the survivor refused the delivery after the kill: %v", l.codes)
	}
	deadline = time.Now().Add(time.Minute)
	for !isLeader(survivor) {
		if time.Now().After(deadline) {
			t.Fatal("the survivor never took over")
		}
		time.Sleep(100 * time.Millisecond)
	}
	tookOverAt := delivered.Load()
	time.Sleep(time.Second)
	close(stop)
	<-streamed

	ctx := context.Background()
	waitConverged := func(id int64) {
		deadline := time.Now().Add(time.Minute)
		for {
			err := converged(ctx, ns, eventsv1alpha1.ResourceName(id), "version 1")()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %d: %v", id, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitConverged(afterKill)
	last := delivered.Load()
	for id := int64(firstID); id < firstID+last; id++ {
		waitConverged(id)
	}
	if l.refused.Load() > 0 || l.acked.Load() != l.requests.Load() {
		t.Errorf("%d of %d deliveries were not answered 2xx at once (answers %v)", l.requests.Load()-l.acked.Load(), l.requests.Load(), l.codes)
	}
	stored, lost := 0, 0
	for id, vs := range l.ackedVersions {
		var ev eventsv1alpha1.IngresseEvent
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: eventsv1alpha1.ResourceName(id)}, &ev)
		switch {
		case err == nil:
			stored += len(vs)
		case apierrors.IsNotFound(err):
			lost += len(vs)
			t.Errorf("event %d was acknowledged and is not stored", id)
		default:
			t.Fatal(err)
		}
	}
	t.Logf("leader killed after %d deliveries to the survivor; it took over by %d; %d deliveries in all, %d answered 2xx at once, all converged",
		killedAt, tookOverAt, l.requests.Load(), l.acked.Load())
	testenv.Report(testenv.Row{
		Test: "leader SIGKILLed, the other takes over (binary)", Faults: 1, Sent: int(l.requests.Load()),
		Requests: int(l.requests.Load()), Acked: int(l.acked.Load()), Stored: stored, Lost: lost,
	})
}

// TestFloodOnTheBinary sends 2,000 requests from 256 senders at once to a
// manager allowed 32 in flight, sampling its in-flight gauge from /metrics
// all along: it never exceeds the bound, the excess is answered 503 with
// Retry-After, everything answered 2xx is stored, the goroutines return to
// where they were, and the process's memory is printed.
func TestFloodOnTheBinary(t *testing.T) {
	const bound, senders = 32, 256
	requests := scale(2000, 20000)
	ns := env.Namespace(t)
	const token = "tok-flood-93d0f6a2c1e7"
	m := startManagerFor(t, ns, []string{token}, testenv.ManagerOptions{Args: []string{"--receiver-max-in-flight=" + strconv.Itoa(bound)}})
	// Warm up, then take the baseline.
	warm := newSender(func() string { return m.ReceiverURL }, token, 5)
	if !warm.deliver(newLedger(), delivery{Body: saleBody}) || !warm.deliver(newLedger(), delivery{Body: postbackBody}) {
		t.Fatal("warming up failed")
	}
	rssBefore, _ := testenv.ProcessRSS(m.Pid())
	before, err := testenv.Metrics(m.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	sampled := make(chan float64)
	go func() {
		highest := 0.0
		defer func() { sampled <- highest }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if samples, err := testenv.Metrics(m.MetricsURL); err == nil {
				highest = max(highest, testenv.Sum(samples, "ingresse_receiver_in_flight_requests"))
			}
		}
	}()
	transport := &http.Transport{MaxIdleConnsPerHost: senders}
	defer transport.CloseIdleConnections()
	httpc := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	var next, ok2xx, busy atomic.Int64
	var mu sync.Mutex
	acked := map[int64][]int{}
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(requests) {
					return
				}
				id, v := 400000+i/4, int(i%4)+1
				req, _ := http.NewRequest(http.MethodPost, m.ReceiverURL+"?token="+token, bytes.NewReader(eventBody(t, id, v)))
				req.Header.Set("Content-Type", "application/json")
				resp, err := httpc.Do(req)
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusServiceUnavailable:
					if resp.Header.Get("Retry-After") == "" {
						t.Error("503 without Retry-After")
					}
					busy.Add(1)
				case resp.StatusCode < 300:
					ok2xx.Add(1)
					mu.Lock()
					acked[id] = append(acked[id], v)
					mu.Unlock()
				default:
					t.Errorf("request %d: HTTP %d", i, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	gaugeMax := <-sampled
	transport.CloseIdleConnections()
	rssAfter, _ := testenv.ProcessRSS(m.Pid())

	if gaugeMax > bound {
		t.Errorf("the in-flight gauge reached %v, over the bound %d", gaugeMax, bound)
	}
	if busy.Load() == 0 {
		t.Error("no request was turned away: the flood did not reach the bound")
	}
	ctx := context.Background()
	stored, lost := 0, 0
	for id, vs := range acked {
		var ev eventsv1alpha1.IngresseEvent
		held := 0
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: eventsv1alpha1.ResourceName(id)}, &ev); err == nil {
			held, _ = strconv.Atoi(strings.TrimPrefix(ptr.Deref(ev.Spec.Title, ""), "version "))
		} else if !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		for _, v := range vs {
			if held >= v {
				stored++
			} else {
				lost++
				t.Errorf("event %d version %d was acknowledged, the API server holds %d", id, v, held)
			}
		}
	}
	// The goroutines of 256 connections are gone once they are closed.
	goroutinesBefore := testenv.Sum(before, "go_goroutines")
	var goroutinesAfter float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		after, err := testenv.Metrics(m.MetricsURL)
		if err != nil {
			t.Fatal(err)
		}
		goroutinesAfter = testenv.Sum(after, "go_goroutines")
		if goroutinesAfter <= goroutinesBefore+10 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%v goroutines after the flood, %v before", goroutinesAfter, goroutinesBefore)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("flood: %d requests from %d senders, bound %d: %d 2xx, %d 503; in-flight gauge at most %v; goroutines %v -> %v; RSS %.1f MiB -> %.1f MiB",
		requests, senders, bound, ok2xx.Load(), busy.Load(), gaugeMax, goroutinesBefore, goroutinesAfter, float64(rssBefore)/(1<<20), float64(rssAfter)/(1<<20))
	testenv.Report(testenv.Row{
		Test: fmt.Sprintf("flood, %d senders, bound %d, gauge at most %v, RSS %.0f->%.0f MiB (binary)", senders, bound, gaugeMax, float64(rssBefore)/(1<<20), float64(rssAfter)/(1<<20)),
		Sent: requests, Requests: requests, Acked: int(ok2xx.Load()), Stored: stored, Lost: lost,
	})
}
