// Command bench measures ingresse-operator against the API server's own
// limit, in one run on one machine, so that only ratios matter:
//
//   - the baseline: IngresseEvents carrying Ingresse's seed payload, and
//     plain ConfigMaps, written straight through a client at concurrency 1
//     and C (IngresseEvent creates, updates and status patches, ConfigMap
//     creates), in namespaces the operator does not watch;
//   - the operator, in two topologies one after the other, each on its own
//     namespace and event ids: as config/ installs it (the receiver and
//     the leader-elected controller, two processes) and as make dev runs it
//     (one process). The built manager binary runs as its own processes
//     (testenv.StartManager), driven over HTTP by C concurrent senders with
//     new events, changed events (several rounds of event-update with a new
//     title and updatedAt) and duplicate or stale redeliveries, each kind in
//     its own phase so that the API writes it costs can be counted from the
//     kube-apiserver's own apiserver_request_total;
//   - the HTTP answer latency at half the end-to-end rate and at 50
//     deliveries per second;
//   - each manager process's CPU, and its memory as 1k, 5k and 10k events
//     are stored;
//   - a resync sweep of --events events from a fake Ingresse API by the
//     controller: the backfill, a sweep with nothing changed and one with
//     a tenth changed (resync.go).
//
// It prints tables and writes every figure as JSON (--out). With --smoke
// it runs a few hundred events through each topology and exits non-zero
// when any request failed, a manager logged an error, or an event did not
// converge; never because of a ratio or a timing.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/controllers"
	"github.com/ingresse-operator/ingresse-operator/internal/eventclient"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// Event ids of each kind of phase, before the topology's offset
// (topologyIDStride): the warm-up, the measured events, the C=1 phase and
// the two rated phases.
const (
	warmupBaseID  = 4_000_000
	eventBaseID   = 5_000_000
	singleBaseID  = 6_000_000
	ratedBaseID   = 7_000_000
	rated50BaseID = 7_500_000
)

// fixedRate is the rate of the fixed-rate latency phase, in deliveries per
// second.
const fixedRate = 50

type options struct {
	events, updates, concurrency int
	smoke                        bool
	out                          string
	ratedSeconds                 float64
	cpuProfileSeconds            int
	cpuProfilePhase              string
	managerArgs                  string
	manager                      string
	oneProcessLadder             bool
	resyncOnly                   bool
	heapProfiles                 bool
	scaleSteps                   string
}

func main() {
	var o options
	flag.IntVar(&o.events, "events", 10000, "events to create through the receiver of each topology (the memory ladder is taken at 10%, 50% and 100% of it)")
	flag.IntVar(&o.updates, "updates", 3, "event-update rounds per event after its event-create")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent senders (and baseline writers); the baseline is also measured at 1")
	flag.BoolVar(&o.smoke, "smoke", false, "a quick run (300 events per topology, no memory ladder) that fails on any error or unconverged event")
	flag.StringVar(&o.out, "out", filepath.Join(testenv.RepoRoot(), "hack", "bench", "out", "results.json"), "where the JSON results go")
	flag.Float64Var(&o.ratedSeconds, "rated-seconds", 20, "length of each phase sent at a fixed rate (half the end-to-end rate, and 50/s)")
	flag.IntVar(&o.cpuProfileSeconds, "cpu-profile-seconds", 0, "when > 0, take CPU profiles of each manager process and of kube-apiserver for this long from the start of the last batch's --cpu-profile-phase in each topology, and heap profiles of each manager process at each memory sample (written next to --out)")
	flag.StringVar(&o.cpuProfilePhase, "cpu-profile-phase", phaseChanged, "the phase of the last batch the CPU profiles are taken in: "+phaseNew+" or "+phaseChanged)
	flag.StringVar(&o.manager, "manager", "", "manager binary to run (default: build ./cmd as make build does)")
	flag.StringVar(&o.managerArgs, "manager-args", "", "extra flags for every manager process, space-separated (to compare settings)")
	flag.BoolVar(&o.oneProcessLadder, "one-process-ladder", true, "run the one-process topology's whole memory ladder (--events new events); false stores only the ladder's first batch (10% of --events) through it before its rated and C=1 phases: a shorter run, whose one-process ingest is measured with fewer events stored (the installed topology always runs the whole ladder)")
	flag.StringVar(&o.scaleSteps, "scale", "", "instead of the webhook benchmark, the scale benchmark (make bench-scale): store events straight through the API in these cumulative steps (e.g. 1000,10000,50000,100000) and measure the installed topology's start, catch-up, memory, latency at 50/s and a restart (scale.go)")
	flag.BoolVar(&o.heapProfiles, "heap-profiles", false, "with --scale: take a heap profile of each manager process at each step (written next to --out)")
	flag.BoolVar(&o.resyncOnly, "resync-only", false, "measure only the resync sweeps of --events events (no baseline, no topology): a few minutes")
	plotFile := flag.String("plot", "", "run nothing: draw the figures of this JSON (of make bench or make bench-scale) as SVG files, next to it or in --plot-dir")
	plotDir := flag.String("plot-dir", "", "where --plot writes the figures (default: next to the JSON)")
	flag.Parse()
	if *plotFile != "" {
		if err := drawPlots(*plotFile, *plotDir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if o.smoke {
		if !isSet("events") {
			o.events = 300
		}
		if !isSet("rated-seconds") {
			o.ratedSeconds = 5
		}
	}
	if o.events < 10 || o.updates < 1 || o.concurrency < 1 {
		fmt.Fprintln(os.Stderr, "bench: --events must be at least 10, --updates and --concurrency at least 1")
		os.Exit(2)
	}
	if o.cpuProfilePhase != phaseNew && o.cpuProfilePhase != phaseChanged {
		fmt.Fprintf(os.Stderr, "bench: --cpu-profile-phase must be %s or %s\n", phaseNew, phaseChanged)
		os.Exit(2)
	}
	ctrllog.SetLogger(logr.Discard()) // client-go's own warnings go nowhere; the figures say what failed
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err == nil {
		err = drawPlots(o.out, "")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if o.smoke && res.Errors.Total > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d errors or unconverged events (see above)\n", res.Errors.Total)
		os.Exit(1)
	}
}

// parseSteps reads --scale: increasing, positive, comma-separated counts.
func parseSteps(s string) ([]int, error) {
	var steps []int
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 || (len(steps) > 0 && n <= steps[len(steps)-1]) {
			return nil, fmt.Errorf("--scale wants increasing positive counts such as 1000,10000,50000,100000, got %q", s)
		}
		steps = append(steps, n)
	}
	return steps, nil
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// bench is one run's state; what belongs to one topology is in topology.
type bench struct {
	o options
	// apiserverPid and etcdPid are the control plane's processes.
	apiserverPid, etcdPid int
	env                   *testenv.Env
	api                   *apiServer
	// bin is the manager binary, token the receivers' token.
	bin, token string
	payloads   *payloads
	res        *results
	log        func(format string, args ...any)
}

func run(ctx context.Context, o options) (*results, error) {
	start := time.Now()
	b := &bench{o: o, res: newResults(o), token: "bench-token-0123456789abcdef"}
	b.log = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	var err error
	if b.payloads, err = newPayloads(); err != nil {
		return nil, err
	}

	b.log("starting the test control plane (kube-apiserver v%s, etcd v%s)", b.res.Machine.KubeAPIServer, b.res.Machine.Etcd)
	if b.env, err = testenv.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = b.env.Stop() }()
	if b.api, err = newAPIServer(b.env.Config); err != nil {
		return nil, err
	}
	b.apiserverPid, b.etcdPid = controlPlanePids()
	if err := b.env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench-warmup"}}); err != nil {
		return nil, err
	}

	b.bin = o.manager
	if b.bin == "" {
		b.log("building the manager binary (testenv.BuildManager, as make build does)")
		if b.bin, err = testenv.BuildManager(); err != nil {
			return nil, err
		}
	}
	b.res.ManagerBinary = b.bin

	if o.scaleSteps != "" {
		steps, err := parseSteps(o.scaleSteps)
		if err != nil {
			return nil, err
		}
		if err := b.runScale(ctx, steps); err != nil {
			return nil, err
		}
		b.log("wrote %s", o.out)
		return b.res, nil
	}
	if o.resyncOnly {
		if err := b.resyncPhase(ctx); err != nil {
			return nil, err
		}
		b.res.Seconds = time.Since(b.res.Started).Seconds()
		b.res.Targets = b.res.resyncTargets()
		b.res.printResyncOnly(os.Stdout)
		return b.res, b.res.write(o.out)
	}
	if err := b.warmUp(ctx); err != nil {
		return nil, err
	}
	if err := b.baselines(ctx, "start", []int{1, o.concurrency}); err != nil {
		return nil, err
	}
	for i, spec := range topologies {
		if err := b.runTopology(ctx, spec, i); err != nil {
			return nil, err
		}
	}
	if err := b.resyncPhase(ctx); err != nil {
		return nil, err
	}
	// Measured again at the end, with as many objects stored as the
	// operator's phases left, so that a machine whose load drifted during
	// the run weighs on both sides of every ratio (the mean is used).
	if err := b.baselines(ctx, "end", []int{o.concurrency}); err != nil {
		return nil, err
	}

	b.res.finish()
	b.res.print(os.Stdout)
	if err := b.res.write(o.out); err != nil {
		return nil, err
	}
	b.log("wrote %s", o.out)
	return b.res, nil
}

// warmUp takes the first writes to the freshly registered CRD (which stall
// for a couple of seconds) out of every figure.
func (b *bench) warmUp(ctx context.Context) error {
	b.log("warming up: direct writes")
	spec, err := seedSpec()
	if err != nil {
		return err
	}
	c, err := b.baselineClient()
	if err != nil {
		return err
	}
	events := make([]*eventsv1alpha1.IngresseEvent, 100)
	if _, err := createMany(ctx, c, 100, 8, func(i int) client.Object {
		events[i] = seedEvent("bench-warmup", int64(warmupBaseID+i), spec)
		return events[i]
	}); err != nil {
		return err
	}
	cms := make([]*corev1.ConfigMap, len(events))
	for i, ev := range events {
		if cms[i], err = controllers.DerivedConfigMap(ev, time.Now()); err != nil {
			return err
		}
	}
	_, err = createMany(ctx, c, 100, 8, func(i int) client.Object { return cms[i] })
	return err
}

// warmUpReceiver takes a topology's first deliveries (and its processes'
// first reconciles) out of every figure.
func (b *bench) warmUpReceiver(ctx context.Context, t *topology) error {
	b.log("%s: warming up with 50 webhooks", t.name)
	var deliveries []delivery
	var names []string
	for i := range 50 {
		d := b.delivery(t.id(warmupBaseID, i), 0)
		deliveries = append(deliveries, d)
		names = append(names, d.name)
	}
	r := t.sender.closedLoop(ctx, deliveries, 8)
	conv := t.tracker.wait(ctx, names, time.Minute)
	if r.errors() > 0 || len(conv.missing) > 0 {
		return fmt.Errorf("%s: warm-up failed: %d request errors %v, %d events not converged (%s)", t.name, r.errors(), r.firstErrors, len(conv.missing), t.describeMissing(conv.missing))
	}
	time.Sleep(2 * time.Second)
	return nil
}

// baselineClient writes as the operator does: IngresseEvent creates and
// updates answered with metadata only (the event store's eventclient), a
// ConfigMap create answered whole (the controller's client), and every
// write with the operator's field owner.
func (b *bench) baselineClient() (client.Client, error) {
	cfg := rest.CopyConfig(b.env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side limit: the API server's is measured
	return eventclient.New(cfg, client.Options{Scheme: testenv.Scheme, FieldOwner: eventstore.FieldOwner})
}

// baselines measures the API server alone, with no manager running, paying
// what the operator pays for each write: at each concurrency, IngresseEvent
// creates and updates as the receiver sends them (its annotations, the
// version annotation included, answered with metadata only), the first
// status write on each (an object without status, as after a create), the
// ConfigMap the controller derives from each (controllers.DerivedConfigMap,
// its size and owner), and a second status write on each (an object that
// has one, as after a change).
func (b *bench) baselines(ctx context.Context, when string, concurrencies []int) error {
	spec, err := seedSpec()
	if err != nil {
		return err
	}
	c, err := b.baselineClient()
	if err != nil {
		return err
	}
	for _, conc := range concurrencies {
		ns, n := fmt.Sprintf("bench-baseline-%s-c%d", when, conc), b.o.events
		if conc == 1 {
			n = min(b.o.events, 1000)
		}
		if err := b.env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
		before, err := b.api.counts(ctx)
		if err != nil {
			return err
		}
		cpuBefore := b.cpu(nil)
		events := make([]*eventsv1alpha1.IngresseEvent, n)
		ie, err := createMany(ctx, c, n, conc, func(i int) client.Object {
			events[i] = seedEvent(ns, int64(eventBaseID+i), spec)
			return events[i]
		})
		if err != nil {
			return err
		}
		cpuCreated := b.cpu(nil)
		// The same events updated once each, as the receiver updates them:
		// the spec of their first event-update, written with a full update.
		if err := b.updateSpecs(events); err != nil {
			return err
		}
		cpuDecoded := b.cpu(nil)
		upd, err := writeMany(n, conc, func(i int) error { return c.Update(ctx, events[i]) })
		if err != nil {
			return err
		}
		cpuUpdated := b.cpu(nil)
		patches, err := statusPatches(events, 0)
		if err != nil {
			return err
		}
		cpuPatched := b.cpu(nil)
		sts, err := writeMany(n, conc, func(i int) error { return patchStatus(ctx, c, events[i], patches[i]) })
		if err != nil {
			return err
		}
		cpuStatus := b.cpu(nil)
		cms := make([]*corev1.ConfigMap, n)
		for i, ev := range events {
			if cms[i], err = controllers.DerivedConfigMap(ev, time.Now()); err != nil {
				return err
			}
		}
		cpuDerived := b.cpu(nil)
		cm, err := createMany(ctx, c, n, conc, func(i int) client.Object { return cms[i] })
		if err != nil {
			return err
		}
		cpuConfigMaps := b.cpu(nil)
		rewrites, err := statusPatches(events, 1)
		if err != nil {
			return err
		}
		cpuRepatched := b.cpu(nil)
		rew, err := writeMany(n, conc, func(i int) error { return patchStatus(ctx, c, events[i], rewrites[i]) })
		if err != nil {
			return err
		}
		cpuEnd := b.cpu(nil)
		// The untimed preparations (decoding the updates, computing the
		// patches, deriving the ConfigMaps) are left out of the CPU
		// figures.
		cpu := cpuEnd.sub(cpuBefore).sub(cpuDecoded.sub(cpuCreated)).sub(cpuPatched.sub(cpuUpdated)).
			sub(cpuDerived.sub(cpuStatus)).sub(cpuRepatched.sub(cpuConfigMaps))
		after, err := b.api.counts(ctx)
		if err != nil {
			return err
		}
		bl := baseline{CPU: cpuFiguresOf(cpu, 5*n), When: when, Concurrency: conc, Count: n,
			EventCreatesPerSec: float64(n) / ie.Seconds(), EventUpdatesPerSec: float64(n) / upd.Seconds(),
			StatusWritesPerSec: float64(n) / sts.Seconds(), ConfigMapCreatesPerSec: float64(n) / cm.Seconds(),
			StatusRewritesPerSec: float64(n) / rew.Seconds(), Writes: after.sub(before),
			ConfigMapDataBytes:    dataBytes(cms[0]),
			CPUPerEventCreate:     cpuFiguresOf(cpuCreated.sub(cpuBefore), n),
			CPUPerEventUpdate:     cpuFiguresOf(cpuUpdated.sub(cpuDecoded), n),
			CPUPerStatusWrite:     cpuFiguresOf(cpuStatus.sub(cpuPatched), n),
			CPUPerConfigMapCreate: cpuFiguresOf(cpuConfigMaps.sub(cpuDerived), n),
			CPUPerStatusRewrite:   cpuFiguresOf(cpuEnd.sub(cpuRepatched), n)}
		b.res.Baselines = append(b.res.Baselines, bl)
		b.log("baseline (%s) C=%d: %d IngresseEvents created at %.0f/s, updated at %.0f/s, status written at %.0f/s and rewritten at %.0f/s; %d ConfigMaps of %d data bytes created at %.0f/s",
			when, conc, n, bl.EventCreatesPerSec, bl.EventUpdatesPerSec, bl.StatusWritesPerSec, bl.StatusRewritesPerSec, n, bl.ConfigMapDataBytes, bl.ConfigMapCreatesPerSec)
	}
	return nil
}

// updateSpecs gives each event the spec its first event-update carries,
// as the receiver decodes it.
func (b *bench) updateSpecs(events []*eventsv1alpha1.IngresseEvent) error {
	for _, ev := range events {
		var envelope struct {
			Data eventsv1alpha1.IngresseEventSpec `json:"data"`
		}
		if err := json.Unmarshal(b.payloads.body(ev.Spec.ID, 1), &envelope); err != nil {
			return fmt.Errorf("decoding the update of %s: %w", ev.Name, err)
		}
		ev.Spec = envelope.Data
		ev.Annotations[eventsv1alpha1.AnnotationWebhook] = "event-update"
		setVersion(ev, ev.Generation+1)
	}
	return nil
}

// statusPatches are the merge patches the controller writes to the status
// of each event when it reconciles it: observedGeneration, the conditions
// of an event whose ConfigMap holds its spec, and configMapRef. ahead is
// added to the generation they observe: 1 makes a second write that
// changes the status, as a changed event's does.
func statusPatches(events []*eventsv1alpha1.IngresseEvent, ahead int64) ([][]byte, error) {
	out := make([][]byte, len(events))
	now := metav1.NewTime(time.Now()).Rfc3339Copy()
	for i, ev := range events {
		gen := ev.Generation + ahead
		cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
			return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: now}
		}
		hash := sha256.Sum256([]byte(ev.Name))
		st := eventsv1alpha1.IngresseEventStatus{
			ObservedGeneration: gen,
			Conditions: []metav1.Condition{
				cond(eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled, "ConfigMap "+ev.Name+" holds the current spec."),
				cond(eventsv1alpha1.ConditionContentComplete, metav1.ConditionTrue, eventsv1alpha1.ReasonAllContentIncluded, fmt.Sprintf("Every key fits within the ConfigMap's data budget of %d bytes.", controllers.DefaultMaxConfigMapDataBytes)),
				cond(eventsv1alpha1.ConditionSalesEnabled, metav1.ConditionTrue, eventsv1alpha1.ReasonSaleEnabled, "The saleEnabled attribute is true."),
				cond(eventsv1alpha1.ConditionUpcomingSession, metav1.ConditionFalse, eventsv1alpha1.ReasonNoUpcomingSession, "No session starts in the future: 1 of 1 sessions have started."),
				cond(eventsv1alpha1.ConditionInSource, metav1.ConditionUnknown, eventsv1alpha1.ReasonWebhookOnly, "The stored version is what a webhook said; Ingresse's API has not confirmed it (no API credentials, or no sweep since)."),
			},
			ConfigMapRef: &eventsv1alpha1.ConfigMapReference{Name: ev.Name, ContentHash: hex.EncodeToString(hash[:])},
		}
		patch, err := client.MergeFrom(&eventsv1alpha1.IngresseEvent{}).Data(&eventsv1alpha1.IngresseEvent{Status: st})
		if err != nil {
			return nil, err
		}
		out[i] = patch
	}
	return out, nil
}

// patchStatus writes patch to the status of ev the way the controller
// does: a merge patch of the status subresource, answered with metadata
// only.
func patchStatus(ctx context.Context, c client.Client, ev *eventsv1alpha1.IngresseEvent, patch []byte) error {
	written := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: ev.Name, Namespace: ev.Namespace}}
	written.SetGroupVersionKind(eventsv1alpha1.GroupVersion.WithKind("IngresseEvent"))
	return c.Status().Patch(ctx, written, client.RawPatch(types.MergePatchType, patch))
}

// createMany creates n objects from conc goroutines and returns how long
// it took; any error stops it.
func createMany(ctx context.Context, c client.Client, n, conc int, obj func(i int) client.Object) (time.Duration, error) {
	return writeMany(n, conc, func(i int) error { return c.Create(ctx, obj(i)) })
}

// writeMany makes n writes from conc goroutines and returns how long it
// took; any error stops it.
func writeMany(n, conc int, write func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := write(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// seedSpec is the event-create example's data as a spec.
func seedSpec() (*eventsv1alpha1.IngresseEventSpec, error) {
	var envelope struct {
		Data eventsv1alpha1.IngresseEventSpec `json:"data"`
	}
	if err := json.Unmarshal(examples.EventCreate, &envelope); err != nil {
		return nil, err
	}
	return &envelope.Data, nil
}

// seedEvent is an IngresseEvent as the receiver stores the seed payload:
// its labels and annotations, the version annotation included.
func seedEvent(ns string, id int64, spec *eventsv1alpha1.IngresseEventSpec) *eventsv1alpha1.IngresseEvent {
	ev := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{
		Name: eventsv1alpha1.ResourceName(id), Namespace: ns,
		Labels: map[string]string{
			eventsv1alpha1.LabelEventID:    strconv.FormatInt(id, 10),
			eventsv1alpha1.LabelCompanyID:  "1",
			eventsv1alpha1.LabelProducerID: "297229",
		},
		Annotations: map[string]string{
			eventsv1alpha1.AnnotationWebhook:          "event-create",
			eventsv1alpha1.AnnotationWebhookTimestamp: "2018-04-02T13:57:04.770619Z",
			eventsv1alpha1.AnnotationReceivedAt:       time.Now().UTC().Format(time.RFC3339Nano),
		},
	}}
	ev.Spec = *spec.DeepCopy()
	ev.Spec.ID = id
	setVersion(ev, 1)
	return ev
}

// setVersion writes the version annotation the event store writes (a
// digest of the spec; its exact form is the store's, its size is what
// matters here) for the spec ev holds at generation.
func setVersion(ev *eventsv1alpha1.IngresseEvent, generation int64) {
	raw, _ := json.Marshal(ev.Spec)
	digest := sha256.Sum256(raw)
	ev.Annotations[eventsv1alpha1.AnnotationVersion] = strconv.FormatInt(generation, 10) + "/" +
		time.Now().UTC().Format(time.RFC3339Nano) + "/" + hex.EncodeToString(digest[:])
}

// dataBytes is what a ConfigMap's data weighs, keys and values.
func dataBytes(cm *corev1.ConfigMap) int {
	n := 0
	for k, v := range cm.Data {
		n += len(k) + len(v)
	}
	return n
}

// delivery is version v of event id (0: event-create).
func (b *bench) delivery(id int64, v int) delivery {
	return delivery{id: id, name: eventsv1alpha1.ResourceName(id), title: title(id, v), body: b.payloads.body(id, v), expect: true}
}

func (t *topology) describeMissing(missing []string) string {
	var parts []string
	for _, name := range missing[:min(len(missing), 3)] {
		parts = append(parts, t.tracker.describe(name))
	}
	return strings.Join(parts, "; ")
}

// convergeTimeout bounds the wait for n events to converge.
func convergeTimeout(n int) time.Duration {
	return 2*time.Minute + time.Duration(n)*20*time.Millisecond
}

// ladder is the number of new events stored after each batch of t: the
// memory ladder at 10%, 50% and 100% of --events.
func (b *bench) ladder(t *topology) []int {
	switch {
	case b.o.smoke:
		return []int{b.o.events}
	case t.name == topologyOneProcess && !b.o.oneProcessLadder:
		return []int{b.o.events / 10}
	}
	return []int{b.o.events / 10, b.o.events / 2, b.o.events}
}

// webhookPhases runs the memory ladder through t: for each batch of new
// events, a phase of event-creates, then the update rounds, then
// redeliveries; then a phase at half the end-to-end rate, one at 50
// deliveries per second and one at concurrency 1.
func (b *bench) webhookPhases(ctx context.Context, t *topology) error {
	steps := b.ladder(t)
	from := 0
	for i, to := range steps {
		if to <= from {
			continue
		}
		ids := make([]int64, 0, to-from)
		for k := from; k < to; k++ {
			ids = append(ids, t.id(eventBaseID, k))
		}
		if err := b.batch(ctx, t, ids, i == len(steps)-1 && b.o.cpuProfileSeconds > 0); err != nil {
			return err
		}
		if err := b.memorySnapshot(ctx, t); err != nil {
			return err
		}
		from = to
	}
	// Half the sustainable rate (end to end: ingest plus the controller's
	// writes), and a fixed rate every topology is measured at.
	pn, pc := t.res.phase(phaseNew), t.res.phase(phaseChanged)
	if pn.E2ESeconds+pc.E2ESeconds > 0 {
		sustainable := float64(pc.Converged*(1+b.o.updates)) / (pn.E2ESeconds + pc.E2ESeconds)
		if err := b.ratedPhase(ctx, t, phaseRatedE2E, sustainable/2, ratedBaseID, fmt.Sprintf("half of %.0f/s, the end-to-end rate of create + updates", sustainable)); err != nil {
			return err
		}
	}
	if err := b.ratedPhase(ctx, t, phaseRated50, fixedRate, rated50BaseID, "a fixed rate"); err != nil {
		return err
	}
	return b.singleSenderPhase(ctx, t)
}

// batch runs the new, changed and duplicate phases over ids.
func (b *bench) batch(ctx context.Context, t *topology, ids []int64, profile bool) error {
	names := make([]string, len(ids))
	creates := make([]delivery, len(ids))
	for i, id := range ids {
		creates[i] = b.delivery(id, 0)
		names[i] = creates[i].name
	}
	b.log("%s: batch of %d events: event-create at C=%d", t.name, len(ids), b.o.concurrency)
	if profile && b.o.cpuProfilePhase == phaseNew {
		go b.cpuProfile(ctx, t)
	}
	if err := b.phase(ctx, t, phaseNew, names, func() *sendResult {
		return t.sender.closedLoop(ctx, creates, b.o.concurrency)
	}); err != nil {
		return err
	}

	// Every event's event-create again, before any update: created
	// first, refused as existing, then read, and found unchanged.
	dupCreates := make([]delivery, len(creates))
	for i, d := range creates {
		d.expect = false
		dupCreates[i] = d
	}
	b.log("%s: batch of %d events: %d duplicate event-creates at C=%d", t.name, len(ids), len(dupCreates), b.o.concurrency)
	if err := b.phase(ctx, t, phaseDuplicateCreate, nil, func() *sendResult {
		return t.sender.closedLoop(ctx, dupCreates, b.o.concurrency)
	}); err != nil {
		return err
	}

	b.log("%s: batch of %d events: %d event-update rounds at C=%d", t.name, len(ids), b.o.updates, b.o.concurrency)
	if profile && b.o.cpuProfilePhase == phaseChanged {
		go b.cpuProfile(ctx, t)
	}
	if err := b.phase(ctx, t, phaseChanged, names, func() *sendResult {
		total := newSendResult()
		for v := 1; v <= b.o.updates; v++ {
			round := make([]delivery, len(ids))
			for i, id := range ids {
				round[i] = b.delivery(id, v)
			}
			total.add(t.sender.closedLoop(ctx, round, b.o.concurrency))
		}
		return total
	}); err != nil {
		return err
	}

	// Every event's newest version again (unchanged), and an old version
	// of every fourth (stale).
	var dups []delivery
	for i, id := range ids {
		d := b.delivery(id, b.o.updates)
		d.expect = false
		dups = append(dups, d)
		if i%4 == 0 {
			d := b.delivery(id, 1)
			d.expect = false
			dups = append(dups, d)
		}
	}
	b.log("%s: batch of %d events: %d duplicate and stale redeliveries at C=%d", t.name, len(ids), len(dups), b.o.concurrency)
	return b.phase(ctx, t, phaseDuplicate, nil, func() *sendResult {
		return t.sender.closedLoop(ctx, dups, b.o.concurrency)
	})
}

// phase runs send through t, waits for names to converge, lets
// asynchronous writes (Kubernetes Events) land, and records the figures
// under kind.
func (b *bench) phase(ctx context.Context, t *topology, kind string, names []string, send func() *sendResult) error {
	before, err := b.api.counts(ctx)
	if err != nil {
		return err
	}
	writes0, err := b.api.writeDurations(ctx)
	if err != nil {
		return err
	}
	cpuBefore := b.cpu(t)
	start := time.Now()
	r := send()
	var conv convergence
	if names != nil {
		conv = t.tracker.wait(ctx, names, convergeTimeout(len(names)))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Events are recorded asynchronously; give them time to land in the
	// phase that caused them.
	time.Sleep(1500 * time.Millisecond)
	after, err := b.api.counts(ctx)
	if err != nil {
		return err
	}
	writes1, err := b.api.writeDurations(ctx)
	if err != nil {
		return err
	}
	p := t.res.phase(kind)
	if p.apiWrites == nil {
		p.apiWrites = histogram{}
	}
	for le, n := range writes1.minus(writes0) {
		p.apiWrites[le] += n
	}
	p.Concurrency = b.o.concurrency
	p.send.add(r)
	p.Writes = p.Writes.add(after.sub(before))
	p.cpu = p.cpu.add(b.cpu(t).sub(cpuBefore))
	if names != nil {
		p.Events += len(names)
		p.Converged += conv.converged
		p.Unconverged += len(conv.missing)
		p.e2eLatencies = append(p.e2eLatencies, conv.latencies...)
		if !conv.last.IsZero() {
			p.E2ESeconds += conv.last.Sub(start).Seconds()
		}
		if len(conv.missing) > 0 {
			t.res.Errors.UnconvergedFirst = append(t.res.Errors.UnconvergedFirst, t.describeMissing(conv.missing))
		}
	}
	b.log("  %d deliveries in %.1fs (%.0f/s), %d errors %v, outcomes %v; converged %d/%d; writes IE %.0f CM %.0f status %.0f events %.0f conflicts %.0f",
		r.deliveries, r.elapsed.Seconds(), float64(r.ok)/r.elapsed.Seconds(), r.errors(), r.firstErrors, r.outcomes,
		conv.converged, len(names), after.sub(before).EventWrites, after.sub(before).ConfigMapWrites, after.sub(before).StatusWrites,
		after.sub(before).KubeEventWrites, after.sub(before).Conflicts)
	return nil
}

// cpu samples the CPU time of every process of the run (the manager
// processes of t, when t is not nil) and of the machine.
func (b *bench) cpu(t *topology) cpuShares {
	busy, all := machineCPU()
	s := cpuShares{APIServer: processCPU(b.apiserverPid), Etcd: processCPU(b.etcdPid),
		Bench: processCPU(os.Getpid()), MachineBusy: busy, MachineAll: all}
	if t != nil {
		for _, p := range t.procs {
			s.Managers = append(s.Managers, processCPU(p.mgr.Pid()))
		}
	}
	return s
}

// memorySnapshot records the memory of each process of t.
func (b *bench) memorySnapshot(ctx context.Context, t *topology) error {
	// Let the managers' caches and the garbage collector settle.
	time.Sleep(2 * time.Second)
	stored := t.tracker.stored()
	for _, p := range t.procs {
		rss, peak, err := processMemory(p.mgr.Pid())
		if err != nil {
			return err
		}
		heap, err := managerMetric(ctx, p.mgr.MetricsURL, "go_memstats_heap_inuse_bytes")
		if err != nil {
			return err
		}
		m := memory{Process: p.role, StoredEvents: stored, RSSMiB: rss, PeakRSSMiB: peak, HeapInuseMiB: heap / (1 << 20)}
		t.res.Memory = append(t.res.Memory, m)
		b.log("%s: %s memory at %d stored events: RSS %.1f MiB (peak %.1f), heap in use %.1f MiB", t.name, p.role, stored, rss, peak, m.HeapInuseMiB)
		if p.pprofAddr != "" {
			b.fetch(ctx, b.httpClient(), fmt.Sprintf("http://%s/debug/pprof/heap", p.pprofAddr), fmt.Sprintf("%s-%s-heap-%d.pprof", t.name, p.role, stored))
		}
	}
	return nil
}

// ratedPhase sends the workload of the closed-loop phases (new events,
// each followed by its update rounds) through t at rate for
// --rated-seconds, and records the answer latency.
func (b *bench) ratedPhase(ctx context.Context, t *topology, kind string, rate float64, baseID int, why string) error {
	perEvent := 1 + b.o.updates
	events := max(int(rate*b.o.ratedSeconds)/perEvent, 1)
	// In groups of events: their creates, then each update round, so that
	// an event's versions come about two seconds apart.
	group := max(int(2*rate), 10)
	var deliveries []delivery
	var names []string
	for g := 0; g < events; g += group {
		for v := 0; v <= b.o.updates; v++ {
			for i := g; i < min(g+group, events); i++ {
				deliveries = append(deliveries, b.delivery(t.id(baseID, i), v))
			}
		}
	}
	for i := range events {
		names = append(names, eventsv1alpha1.ResourceName(t.id(baseID, i)))
	}
	b.log("%s: %s phase: %d events × %d deliveries at %.0f/s (%s)", t.name, kind, events, perEvent, rate, why)
	p := t.res.phase(kind)
	p.TargetRate = rate
	return b.phase(ctx, t, kind, names, func() *sendResult {
		return t.sender.openLoop(ctx, deliveries, rate, 2*b.o.concurrency)
	})
}

// singleSenderPhase creates a few hundred new events through t from one
// sender.
func (b *bench) singleSenderPhase(ctx context.Context, t *topology) error {
	n := min(max(b.o.events/10, 100), 500)
	var deliveries []delivery
	var names []string
	for i := range n {
		d := b.delivery(t.id(singleBaseID, i), 0)
		deliveries = append(deliveries, d)
		names = append(names, d.name)
	}
	b.log("%s: one sender: %d event-creates at C=1", t.name, n)
	err := b.phase(ctx, t, phaseNewC1, names, func() *sendResult { return t.sender.closedLoop(ctx, deliveries, 1) })
	t.res.phase(phaseNewC1).Concurrency = 1
	if err != nil {
		return err
	}
	return b.memorySnapshot(ctx, t)
}

// cpuProfile saves CPU profiles of t's manager processes and of
// kube-apiserver, taken at once.
func (b *bench) cpuProfile(ctx context.Context, t *topology) {
	secs := b.o.cpuProfileSeconds
	for _, p := range t.procs {
		go b.fetch(ctx, b.httpClient(), fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.pprofAddr, secs), fmt.Sprintf("%s-%s-cpu.pprof", t.name, p.role))
	}
	admin, err := rest.HTTPClientFor(b.env.Config)
	if err != nil {
		return
	}
	b.fetch(ctx, admin, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(b.env.Config.Host, "/"), secs), t.name+"-kube-apiserver-cpu.pprof")
}

func (b *bench) httpClient() *http.Client { return &http.Client{Timeout: 5 * time.Minute} }

// fetch saves what url answers next to --out.
func (b *bench) fetch(ctx context.Context, c *http.Client, url, name string) {
	path := filepath.Join(filepath.Dir(b.o.out), name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := c.Do(req)
	if err != nil {
		b.log("profile %s: %v", name, err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	if _, err := f.ReadFrom(resp.Body); err == nil {
		b.log("profile written to %s (go tool pprof %s)", path, path)
	}
}

// machine describes where the run happened.
func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	// The control plane's cache directory is named for its versions:
	// k8s-1.37.2-etcd-3.6.16.
	if dir, err := testenv.AssetsDir(); err == nil {
		if k8s, etcd, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), "k8s-"), "-etcd-"); ok {
			m.KubeAPIServer, m.Etcd = k8s, etcd
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.MemGiB = kb / (1 << 20)
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAtStart = strings.TrimSpace(string(b))
	}
	return m
}
