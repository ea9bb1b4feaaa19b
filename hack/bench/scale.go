package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/fakeingresse"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// The scale benchmark (--scale, make bench-scale) measures how the cost of
// the installed topology grows with what is stored. It stores events
// straight through the API, as a backfill would (realistic payloads:
// internal/fakeingresse's documents, varied titles, sessions and attributes),
// in steps (1k, 10k, 50k, 100k by default), and at each step starts the
// receiver and the leader-elected controller as config/ installs them:
//   - the catch-up: time until the controller has reconciled once every
//     event stored (its ingresse_controller_startup_* metrics), and the
//     operator's API writes per new event in it;
//   - the start's cost to the API server: its CPU until both processes are
//     ready, and the LIST and WATCH requests they made;
//   - each process's RSS and heap, as a curve against stored events;
//   - at the first and last steps, 50 deliveries/s for --rated-seconds:
//     HTTP p99 and POST→Ready p99 (events of their own company, tracked by
//     label, so that the bench does not cache the whole namespace);
//   - at the last step, a restart with everything converged: time until
//     every event was reconciled once, API writes in it (target 0), peak
//     RSS.

const (
	scaleNamespace = "bench-scale"
	// scaleCompanyID is the company of the stored events; the rated
	// deliveries carry the seed payload's (1), which the tracker selects.
	scaleCompanyID  = 2
	scaleRatedBase  = 80_000_000
	scaleRatedLabel = "1"
)

// scaleResults are the figures of --scale.
type scaleResults struct {
	Steps   []scaleStep   `json:"steps"`
	Rated   []scaleRated  `json:"rated"`
	Restart *scaleRestart `json:"restart,omitempty"`
	Seconds float64       `json:"seconds"`
	Targets []target      `json:"targets"`
}

// scaleStep is one step of the ladder.
type scaleStep struct {
	Stored              int                `json:"stored"`
	New                 int                `json:"new"`
	StoreSeconds        float64            `json:"storeSeconds"`
	StartSeconds        float64            `json:"startSeconds"`
	CatchUpSeconds      float64            `json:"catchUpSeconds"`
	CatchUpWrites       float64            `json:"catchUpWrites"`
	WritesPerNewEvent   float64            `json:"writesPerNewEvent"`
	StartAPIServerCPU   float64            `json:"startApiServerCpuSeconds"`
	StartListsAndWatchs map[string]float64 `json:"startListsAndWatches"`
	Memory              []memory           `json:"memory"`
}

type scaleRated struct {
	Stored     int         `json:"stored"`
	Rate       float64     `json:"rate"`
	Deliveries int         `json:"deliveries"`
	Errors     int         `json:"errors"`
	HTTP       percentiles `json:"httpMs"`
	Ready      percentiles `json:"readyMs"`
	Missing    int         `json:"unconverged"`
	// APIWriteP99Ms is the API server's own p99 for the IngresseEvent and
	// ConfigMap writes during the phase (from its request duration
	// histogram, so to a bucket's bound): what the deliveries' latency is
	// made of.
	APIWriteP99Ms float64 `json:"apiWriteP99Ms"`
	// Memory is each process's, after the phase: minutes after the start,
	// under load, what the process holds in steady state.
	Memory []memory `json:"memory"`
}

type scaleRestart struct {
	Stored            int      `json:"stored"`
	StartSeconds      float64  `json:"startSeconds"`
	Seconds           float64  `json:"seconds"`
	Writes            float64  `json:"writes"`
	StartAPIServerCPU float64  `json:"startApiServerCpuSeconds"`
	Memory            []memory `json:"memory"`
}

// scaleTopology is the installed topology's two processes.
type scaleTopology struct {
	receiver, controller *testenv.Manager
	// pprof holds each process's profiler address, by role, when
	// --heap-profiles is set.
	pprof map[string]string
}

func (t *scaleTopology) stop() {
	for _, m := range []*testenv.Manager{t.receiver, t.controller} {
		if m != nil {
			m.Stop(time.Minute)
		}
	}
}

// runScale is the --scale run.
func (b *bench) runScale(ctx context.Context, steps []int) error {
	started := time.Now()
	res := &scaleResults{}
	if err := b.env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: scaleNamespace}}); err != nil {
		return err
	}
	if _, err := b.installAccess(ctx, scaleNamespace); err != nil {
		return err
	}
	c, err := b.baselineClient()
	if err != nil {
		return err
	}
	stored := 0
	for i, target := range steps {
		step := scaleStep{Stored: target, New: target - stored}
		b.log("scale: storing events %d to %d straight through the API", stored+1, target)
		t0 := time.Now()
		if _, err := createMany(ctx, c, target-stored, b.o.concurrency, func(j int) client.Object {
			return scaleEvent(int64(stored + j + 1))
		}); err != nil {
			return err
		}
		step.StoreSeconds = time.Since(t0).Seconds()
		stored = target

		topo, err := b.startAndMeasure(ctx, &step)
		if err != nil {
			return err
		}
		res.Steps = append(res.Steps, step)
		if i == 0 || i == len(steps)-1 {
			rated, err := b.scaleRatedPhase(ctx, topo, stored, i)
			if err != nil {
				topo.stop()
				return err
			}
			res.Rated = append(res.Rated, rated)
		}
		topo.stop()
	}

	// A restart with everything converged.
	restart := &scaleRestart{Stored: stored}
	before, err := b.env.OperatorWrites()
	if err != nil {
		return err
	}
	step := scaleStep{Stored: stored}
	topo, err := b.startAndMeasure(ctx, &step)
	if err != nil {
		return err
	}
	after, err := b.env.OperatorWrites()
	topo.stop()
	if err != nil {
		return err
	}
	restart.Seconds, restart.Writes, restart.Memory = step.CatchUpSeconds, after-before, step.Memory
	restart.StartSeconds, restart.StartAPIServerCPU = step.StartSeconds, step.StartAPIServerCPU
	res.Restart = restart
	b.log("scale: restart with %d converged events: every event reconciled once in %.1f s, %.0f writes", stored, restart.Seconds, restart.Writes)

	res.Seconds = time.Since(started).Seconds()
	res.Targets = res.targets()
	res.print(os.Stdout)
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(b.o.out, append(out, '\n'), 0o644); err != nil {
		return err
	}
	for _, rt := range res.Rated {
		if rt.Errors > 0 || rt.Missing > 0 {
			return fmt.Errorf("scale: at %d stored, %d deliveries failed and %d events did not converge", rt.Stored, rt.Errors, rt.Missing)
		}
	}
	return nil
}

// scaleEvent is the id-th stored event: a realistic document of its own,
// stored as the receiver stores a delivery.
func scaleEvent(id int64) *eventsv1alpha1.IngresseEvent {
	doc := fakeingresse.SeedEvent(int(id), scaleCompanyID, 297229, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	ev := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{
		Name: eventsv1alpha1.ResourceName(id), Namespace: scaleNamespace,
		Labels: map[string]string{
			eventsv1alpha1.LabelEventID:    strconv.FormatInt(id, 10),
			eventsv1alpha1.LabelCompanyID:  strconv.Itoa(scaleCompanyID),
			eventsv1alpha1.LabelProducerID: "297229",
		},
		Annotations: map[string]string{
			eventsv1alpha1.AnnotationWebhook:          "event-update",
			eventsv1alpha1.AnnotationWebhookTimestamp: "2026-06-01T12:00:01Z",
			eventsv1alpha1.AnnotationReceivedAt:       time.Now().UTC().Format(time.RFC3339Nano),
			eventsv1alpha1.AnnotationSource:           eventsv1alpha1.SourceWebhook,
		},
	}}
	if err := json.Unmarshal(doc, &ev.Spec); err != nil {
		panic(err) // the generator's documents are the fixture's shape
	}
	return ev
}

// startAndMeasure starts the topology and measures its catch-up into
// step; the topology is left running for the caller to stop.
func (b *bench) startAndMeasure(ctx context.Context, step *scaleStep) (*scaleTopology, error) {
	topo, err := b.startScaleTopology(ctx, step)
	if err != nil {
		return nil, err
	}
	if err := b.measureScaleStep(ctx, topo, step); err != nil {
		topo.stop()
		return nil, err
	}
	return topo, nil
}

// startScaleTopology starts the receiver and the controller on the scale
// namespace and waits until both are ready and the controller leads. It
// records the start's cost to the API server in step.
func (b *bench) startScaleTopology(ctx context.Context, step *scaleStep) (*scaleTopology, error) {
	lw0, err := b.api.listsAndWatches(ctx)
	if err != nil {
		return nil, err
	}
	cpu0 := b.cpu(nil)
	t0 := time.Now()
	topo := &scaleTopology{pprof: map[string]string{}}
	start := func(role string, args ...string) (*testenv.Manager, error) {
		args = append([]string{"--receiver-shutdown-delay=0s"}, args...)
		if b.o.managerArgs != "" {
			args = append(args, strings.Fields(b.o.managerArgs)...)
		}
		if b.o.heapProfiles || b.o.cpuProfileSeconds > 0 {
			ports, err := testenv.FreePorts(1)
			if err != nil {
				return nil, err
			}
			topo.pprof[role] = "127.0.0.1:" + strconv.Itoa(ports[0])
			args = append(args, "--pprof-bind-address="+topo.pprof[role])
		}
		return b.env.StartManager(testenv.ManagerOptions{Namespace: scaleNamespace, Tokens: []string{b.token}, Binary: b.bin, Args: args,
			ServiceAccount: scaleNamespace + "/" + serviceAccounts[role]})
	}
	if topo.receiver, err = start(roleReceiver, "--enable-controller=false", "--leader-elect=false"); err != nil {
		return nil, err
	}
	if topo.controller, err = start(roleController, "--enable-receiver=false", "--leader-elect"); err != nil {
		topo.stop()
		return nil, err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for _, m := range []*testenv.Manager{topo.receiver, topo.controller} {
		if err := m.WaitReady(readyCtx); err != nil {
			topo.stop()
			return nil, fmt.Errorf("scale: a manager did not get ready: %w (log %s)", err, m.LogPath)
		}
	}
	if err := waitLeader(readyCtx, topo.controller); err != nil {
		topo.stop()
		return nil, err
	}
	// The start ends when the controller has its caches: it then counts
	// the events it must reconcile (the receiver has none to fill).
	if err := waitSynced(readyCtx, topo.controller); err != nil {
		topo.stop()
		return nil, err
	}
	step.StartSeconds = time.Since(t0).Seconds()
	step.StartAPIServerCPU = (b.cpu(nil).APIServer - cpu0.APIServer).Seconds()
	lw1, err := b.api.listsAndWatches(ctx)
	if err != nil {
		topo.stop()
		return nil, err
	}
	step.StartListsAndWatchs = map[string]float64{}
	for k, v := range lw1 {
		if d := v - lw0[k]; d != 0 {
			step.StartListsAndWatchs[k] = d
		}
	}
	return topo, nil
}

// waitSynced waits until the controller has filled its caches and listed
// the events stored at its start: ingresse_controller_startup_pending_events
// is set then (or, when it has already reconciled them all,
// ingresse_controller_startup_reconcile_seconds).
func waitSynced(ctx context.Context, m *testenv.Manager) error {
	return waitManager(ctx, m, "fill its caches", func() bool {
		pending, err1 := managerMetric(ctx, m.MetricsURL, "ingresse_controller_startup_pending_events")
		done, err2 := managerMetric(ctx, m.MetricsURL, "ingresse_controller_startup_reconcile_seconds")
		return (err1 == nil && pending > 0) || (err2 == nil && done > 0)
	})
}

// memory reads each process's RSS, peak RSS and heap in use.
func (t *scaleTopology) memory(ctx context.Context, stored int) ([]memory, error) {
	var out []memory
	for _, p := range []struct {
		role string
		m    *testenv.Manager
	}{{roleReceiver, t.receiver}, {roleController, t.controller}} {
		rss, peak, err := processMemory(p.m.Pid())
		if err != nil {
			return nil, err
		}
		heap, err := managerMetric(ctx, p.m.MetricsURL, "go_memstats_heap_inuse_bytes")
		if err != nil {
			return nil, err
		}
		out = append(out, memory{Process: p.role, StoredEvents: stored, RSSMiB: rss, PeakRSSMiB: peak, HeapInuseMiB: heap / (1 << 20)})
	}
	return out, nil
}

// measureScaleStep waits until the controller has reconciled every stored
// event once, and records the time, the writes and each process's memory.
func (b *bench) measureScaleStep(ctx context.Context, topo *scaleTopology, step *scaleStep) error {
	before, err := b.env.OperatorWrites()
	if err != nil {
		return err
	}
	if secs := b.o.cpuProfileSeconds; secs > 0 {
		for role, addr := range topo.pprof {
			go b.fetch(ctx, b.httpClient(), fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), fmt.Sprintf("scale-%s-cpu-%d.pprof", role, step.Stored))
		}
		admin, err := rest.HTTPClientFor(b.env.Config)
		if err != nil {
			return err
		}
		go b.fetch(ctx, admin, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(b.env.Config.Host, "/"), secs), fmt.Sprintf("scale-kube-apiserver-cpu-%d.pprof", step.Stored))
	}
	deadline := time.Now().Add(40 * time.Minute)
	for {
		seconds, err := managerMetric(ctx, topo.controller.MetricsURL, "ingresse_controller_startup_reconcile_seconds")
		if err == nil && seconds > 0 {
			step.CatchUpSeconds = seconds
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("scale: the controller did not reconcile every stored event within 40 minutes (log %s)", topo.controller.LogPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
			// Not more often: each scrape counts every cached event
			// (ingresse_events), which at 100k is work and garbage of
			// its own. The figure is the controller's own, not this
			// poll's.
		}
	}
	after, err := b.env.OperatorWrites()
	if err != nil {
		return err
	}
	step.CatchUpWrites = after - before
	if step.New > 0 {
		step.WritesPerNewEvent = step.CatchUpWrites / float64(step.New)
	}
	time.Sleep(2 * time.Second) // let the caches and the collector settle
	if step.Memory, err = topo.memory(ctx, step.Stored); err != nil {
		return err
	}
	for role, addr := range topo.pprof {
		if b.o.heapProfiles {
			b.fetch(ctx, b.httpClient(), fmt.Sprintf("http://%s/debug/pprof/heap?gc=1", addr), fmt.Sprintf("scale-%s-heap-%d.pprof", role, step.Stored))
		}
	}
	b.log("scale: %d stored (%d new): started in %.1f s (API server CPU %.1f s, %v), every event reconciled once in %.1f s with %.0f writes; receiver RSS %.0f MiB, controller RSS %.0f MiB (heap %.0f + %.0f MiB)",
		step.Stored, step.New, step.StartSeconds, step.StartAPIServerCPU, step.StartListsAndWatchs, step.CatchUpSeconds, step.CatchUpWrites,
		step.Memory[0].RSSMiB, step.Memory[1].RSSMiB, step.Memory[0].HeapInuseMiB, step.Memory[1].HeapInuseMiB)
	return nil
}

// scaleRatedPhase sends create + 3 updates of new events of their own
// company at 50 deliveries/s and measures the answers and POST→Ready.
func (b *bench) scaleRatedPhase(ctx context.Context, topo *scaleTopology, stored, index int) (scaleRated, error) {
	tr := newTracker()
	trCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := tr.startSelected(trCtx, b.env.Config, scaleNamespace, labels.SelectorFromSet(labels.Set{eventsv1alpha1.LabelCompanyID: scaleRatedLabel})); err != nil {
		return scaleRated{}, err
	}
	snd := newSender(topo.receiver.ReceiverURL, b.token, 2*b.o.concurrency, tr)
	perEvent := 1 + b.o.updates
	events := max(int(fixedRate*b.o.ratedSeconds)/perEvent, 1)
	group := 2 * fixedRate
	var deliveries []delivery
	var names []string
	base := scaleRatedBase + index*100_000
	for g := 0; g < events; g += group {
		for v := 0; v <= b.o.updates; v++ {
			for i := g; i < min(g+group, events); i++ {
				deliveries = append(deliveries, b.delivery(int64(base+i), v))
			}
		}
	}
	for i := range events {
		names = append(names, eventsv1alpha1.ResourceName(int64(base+i)))
	}
	b.log("scale: %d stored: %d events × %d deliveries at %d/s", stored, events, perEvent, fixedRate)
	writes0, err := b.api.writeDurations(ctx)
	if err != nil {
		return scaleRated{}, err
	}
	r := snd.openLoop(ctx, deliveries, fixedRate, 2*b.o.concurrency)
	conv := tr.wait(ctx, names, convergeTimeout(len(names)))
	writes1, err := b.api.writeDurations(ctx)
	if err != nil {
		return scaleRated{}, err
	}
	out := scaleRated{Stored: stored, Rate: fixedRate, Deliveries: r.deliveries, Errors: r.errors(),
		HTTP: percentilesOf(r.latencies), Ready: percentilesOf(conv.latencies), Missing: len(conv.missing),
		APIWriteP99Ms: 1000 * writes1.minus(writes0).quantile(0.99)}
	if out.Memory, err = topo.memory(ctx, stored); err != nil {
		return scaleRated{}, err
	}
	b.log("scale: %d stored: HTTP p99 %.0f ms, POST→Ready p99 %.0f ms, the API server's write p99 %.0f ms, %d errors, %d unconverged; then receiver RSS %.0f MiB, controller RSS %.0f MiB",
		stored, out.HTTP.P99, out.Ready.P99, out.APIWriteP99Ms, out.Errors, out.Missing, out.Memory[0].RSSMiB, out.Memory[1].RSSMiB)
	return out, nil
}

// histogram is a cumulative Prometheus histogram: count at or under each
// upper bound.
type histogram map[float64]float64

func (h histogram) minus(o histogram) histogram {
	out := histogram{}
	for le, n := range h {
		out[le] = n - o[le]
	}
	return out
}

// quantile is the upper bound of the first bucket holding the q-quantile;
// 0 when the histogram is empty.
func (h histogram) quantile(q float64) float64 {
	bounds := slices.Sorted(maps.Keys(h))
	if len(bounds) == 0 || h[math.Inf(1)] == 0 {
		return 0
	}
	rank := q * h[math.Inf(1)]
	for _, le := range bounds {
		if h[le] >= rank {
			return le
		}
	}
	return math.Inf(1)
}

// writeDurations is the API server's request duration histogram of every
// write (create, update, patch) to IngresseEvents and ConfigMaps.
func (a *apiServer) writeDurations(ctx context.Context) (histogram, error) {
	samples, err := a.scrape(ctx, "apiserver_request_duration_seconds_bucket")
	if err != nil {
		return nil, err
	}
	out := histogram{}
	for _, s := range samples {
		if r := s.labels["resource"]; r != "ingresseevents" && r != "configmaps" {
			continue
		}
		switch s.labels["verb"] {
		case "POST", "PUT", "PATCH", "APPLY":
		default:
			continue
		}
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if err != nil {
			continue
		}
		out[le] += s.value
	}
	return out, nil
}

// listsAndWatches counts what the API server sent the informers of
// IngresseEvents and ConfigMaps: LIST requests, and watch events with their
// bytes (the initial events of a streaming list, client-go's WatchList, are
// watch events too; a WATCH request is counted by apiserver_request_total
// only when it ends).
func (a *apiServer) listsAndWatches(ctx context.Context) (map[string]float64, error) {
	samples, err := a.scrape(ctx, "apiserver_request_total", "apiserver_watch_events_total", "apiserver_watch_events_sizes_sum")
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range samples {
		resource := s.labels["resource"]
		if resource != "ingresseevents" && resource != "configmaps" {
			continue
		}
		switch s.name {
		case "apiserver_request_total":
			if s.labels["verb"] == "LIST" {
				out["LIST "+resource] += s.value
			}
		case "apiserver_watch_events_total":
			out["watch events "+resource] += s.value
		case "apiserver_watch_events_sizes_sum":
			out["watch MiB "+resource] += s.value / (1 << 20)
		}
	}
	return out, nil
}

// targets judges the scale run.
func (r *scaleResults) targets() []target {
	var out []target
	if r.Restart != nil {
		out = append(out, target{"API writes in a restart with everything converged", f0(r.Restart.Writes) + " at " + strconv.Itoa(r.Restart.Stored) + " events", "0", r.Restart.Writes == 0})
	}
	if len(r.Rated) >= 2 {
		first, last := r.Rated[0], r.Rated[len(r.Rated)-1]
		httpRatio, readyRatio := last.HTTP.P99/first.HTTP.P99, last.Ready.P99/first.Ready.P99
		out = append(out,
			target{fmt.Sprintf("HTTP p99 at %d/s, %d vs %d stored", fixedRate, last.Stored, first.Stored), fmt.Sprintf("%.0f vs %.0f ms (%.2f ×)", last.HTTP.P99, first.HTTP.P99, httpRatio), "≤ 1.2 ×", httpRatio <= 1.2},
			target{fmt.Sprintf("POST→Ready p99 at %d/s, %d vs %d stored", fixedRate, last.Stored, first.Stored), fmt.Sprintf("%.0f vs %.0f ms (%.2f ×)", last.Ready.P99, first.Ready.P99, readyRatio), "≤ 1.2 ×", readyRatio <= 1.2})
	}
	if n := len(r.Steps); n >= 2 {
		first, last := r.Steps[0], r.Steps[n-1]
		perEvent := func(role string) float64 {
			a, z := memOf(first.Memory, role), memOf(last.Memory, role)
			return (z.RSSMiB - a.RSSMiB) * 1024 / float64(last.Stored-first.Stored)
		}
		sum := perEvent(roleReceiver) + perEvent(roleController)
		out = append(out, target{"RSS per stored event (receiver + controller, its ConfigMap included)",
			fmt.Sprintf("%.2f + %.2f = %.2f KiB", perEvent(roleReceiver), perEvent(roleController), sum), "< 4 KiB", sum < 4})
		ctl := perEvent(roleController)
		out = append(out, target{"controller RSS per stored event once caught up", fmt.Sprintf("%.2f KiB", ctl), "≤ 3 KiB", ctl <= 3})
		startPeak := memOf(last.Memory, roleController).PeakRSSMiB * 1024 / float64(last.Stored)
		out = append(out, target{fmt.Sprintf("controller start peak per stored event at %d events", last.Stored),
			fmt.Sprintf("%.2f KiB (peak RSS %.0f MiB)", startPeak, memOf(last.Memory, roleController).PeakRSSMiB), "≤ 5 KiB", startPeak <= 5})
		peak := max(memOf(last.Memory, roleReceiver).PeakRSSMiB, memOf(last.Memory, roleController).PeakRSSMiB)
		out = append(out, target{fmt.Sprintf("peak RSS of either process at %d events", last.Stored), f0(peak) + " MiB", "< 500 MiB", peak < 500})
	}
	total := 0.0
	for _, s := range r.Steps {
		if s.New > 0 {
			total = max(total, s.WritesPerNewEvent)
		}
	}
	out = append(out, target{"operator writes per new event in a catch-up", f2(total), "≤ 2 (ConfigMap + status)", total <= 2})
	out = append(out, target{"whole run", f0(r.Seconds) + " s", "< 1800 s", r.Seconds < 1800})
	return out
}

func memOf(ms []memory, role string) memory {
	for _, m := range ms {
		if m.Process == role {
			return m
		}
	}
	return memory{}
}

// print writes the scale tables and targets.
func (r *scaleResults) print(out io.Writer) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells ...string) { fmt.Fprintln(w, strings.Join(cells, "\t")+"\t") }
	line("SCALE (installed topology)", "stored", "new", "store s", "start s", "catch-up s", "writes/new", "start API server CPU s", "start LIST/WATCH",
		"receiver RSS/heap MiB", "controller RSS/heap MiB")
	for _, s := range r.Steps {
		rc, ct := memOf(s.Memory, roleReceiver), memOf(s.Memory, roleController)
		line("", strconv.Itoa(s.Stored), strconv.Itoa(s.New), f0(s.StoreSeconds), f2(s.StartSeconds), f2(s.CatchUpSeconds), f2(s.WritesPerNewEvent),
			f2(s.StartAPIServerCPU), fmt.Sprint(s.StartListsAndWatchs), f0(rc.RSSMiB)+" / "+f0(rc.HeapInuseMiB), f0(ct.RSSMiB)+" / "+f0(ct.HeapInuseMiB))
	}
	if rs := r.Restart; rs != nil {
		rc, ct := memOf(rs.Memory, roleReceiver), memOf(rs.Memory, roleController)
		line("restart, all converged", strconv.Itoa(rs.Stored), "0", "-", f2(rs.StartSeconds), f2(rs.Seconds), f0(rs.Writes)+" writes", f2(rs.StartAPIServerCPU), "-",
			f0(rc.PeakRSSMiB)+" peak", f0(ct.PeakRSSMiB)+" peak")
	}
	line()
	line("AT 50/s", "stored", "deliveries", "errors", "HTTP p50/p95/p99 ms", "POST→Ready p50/p95/p99 ms", "API server write p99 ms", "unconverged",
		"then receiver RSS/heap MiB", "controller RSS/heap MiB")
	for _, rt := range r.Rated {
		pct := func(p percentiles) string { return f0(p.P50) + " / " + f0(p.P95) + " / " + f0(p.P99) }
		rc, ct := memOf(rt.Memory, roleReceiver), memOf(rt.Memory, roleController)
		line("", strconv.Itoa(rt.Stored), strconv.Itoa(rt.Deliveries), strconv.Itoa(rt.Errors), pct(rt.HTTP), pct(rt.Ready), "≤ "+f0(rt.APIWriteP99Ms), strconv.Itoa(rt.Missing),
			f0(rc.RSSMiB)+" / "+f0(rc.HeapInuseMiB), f0(ct.RSSMiB)+" / "+f0(ct.HeapInuseMiB))
	}
	_ = w.Flush()
	printTargetTable(out, "TARGETS", r.Targets)
	fmt.Fprintf(out, "\n(%.0f s in all)\n", r.Seconds)
}
