package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Phase kinds.
const (
	phaseNew       = "new"
	phaseChanged   = "changed"
	phaseDuplicate = "duplicate"
	phaseRated     = "rated"
	phaseRatedE2E  = "rated-e2e"
	phaseNewC1     = "new-c1"
)

type results struct {
	Machine   machineInfo    `json:"machine"`
	Options   map[string]any `json:"options"`
	Manager   managerInfo    `json:"manager"`
	Baselines []baseline     `json:"baselines"`
	Phases    []*phase       `json:"phases"`
	Memory    []memory       `json:"memory"`
	Summary   summary        `json:"summary"`
	Targets   []target       `json:"targets"`
	Errors    errorSummary   `json:"errors"`
	Started   time.Time      `json:"started"`
	Seconds   float64        `json:"seconds"`
}

type machineInfo struct {
	CPUs          int     `json:"cpus"`
	CPUModel      string  `json:"cpuModel"`
	MemGiB        float64 `json:"memGiB"`
	GoVersion     string  `json:"goVersion"`
	KubeAPIServer string  `json:"kubeAPIServer"`
	Etcd          string  `json:"etcd"`
	LoadAtStart   string  `json:"loadAtStart"`
}

type managerInfo struct {
	How    string   `json:"how"`
	Binary string   `json:"binary"`
	Args   []string `json:"args"`
	Pid    int      `json:"pid"`
	Log    string   `json:"log"`
}

type baseline struct {
	When                   string    `json:"when"`
	Concurrency            int       `json:"concurrency"`
	Count                  int       `json:"count"`
	EventCreatesPerSec     float64   `json:"ingresseEventCreatesPerSec"`
	EventUpdatesPerSec     float64   `json:"ingresseEventUpdatesPerSec"`
	ConfigMapCreatesPerSec float64   `json:"configMapCreatesPerSec"`
	Writes                 apiCounts `json:"apiRequests"`
	// CPU is over the three kinds of writes together; the others are
	// each kind's own.
	CPU                   cpuFigures `json:"cpu"`
	CPUPerEventCreate     cpuFigures `json:"cpuPerIngresseEventCreate"`
	CPUPerEventUpdate     cpuFigures `json:"cpuPerIngresseEventUpdate"`
	CPUPerConfigMapCreate cpuFigures `json:"cpuPerConfigMapCreate"`
}

// cpuFigures is where the machine's CPU went during a phase: each
// process's milliseconds per operation, and each one's share of the
// machine's capacity (all cores) over the phase.
type cpuFigures struct {
	APIServerMs, EtcdMs, ManagerMs, BenchMs, OthersMs               float64
	APIServerPct, EtcdPct, ManagerPct, BenchPct, OthersPct, IdlePct float64
}

func cpuFiguresOf(c cpuShares, ops int) cpuFigures {
	n := float64(max(ops, 1))
	all := float64(max(c.MachineAll, 1))
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	pct := func(d time.Duration) float64 { return 100 * float64(d) / all }
	return cpuFigures{
		APIServerMs: ms(c.APIServer), EtcdMs: ms(c.Etcd), ManagerMs: ms(c.Manager), BenchMs: ms(c.Bench), OthersMs: ms(c.others()),
		APIServerPct: pct(c.APIServer), EtcdPct: pct(c.Etcd), ManagerPct: pct(c.Manager), BenchPct: pct(c.Bench), OthersPct: pct(c.others()),
		IdlePct: pct(c.MachineAll - c.MachineBusy),
	}
}

type percentiles struct {
	P50 float64 `json:"p50ms"`
	P95 float64 `json:"p95ms"`
	P99 float64 `json:"p99ms"`
	Max float64 `json:"maxms"`
}

func percentilesOf(d []time.Duration) percentiles {
	if len(d) == 0 {
		return percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := min(int(q*float64(len(s))), len(s)-1)
		return float64(s[i]) / float64(time.Millisecond)
	}
	return percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: float64(s[len(s)-1]) / float64(time.Millisecond)}
}

// phase is the figures of one kind of phase, summed over the batches.
type phase struct {
	Name              string         `json:"name"`
	Concurrency       int            `json:"concurrency"`
	TargetRate        float64        `json:"targetRatePerSec,omitempty"`
	Deliveries        int            `json:"deliveries"`
	OK                int            `json:"ok2xx"`
	Outcomes          map[string]int `json:"outcomes"`
	Non2xx            map[int]int    `json:"non2xx"`
	TransportErrors   int            `json:"transportErrors"`
	SendSeconds       float64        `json:"sendSeconds"`
	IngestPerSec      float64        `json:"ingestPerSec"`
	IngestRatio       float64        `json:"ingestRatioToBaselineCreates"`
	IngestUpdateRatio float64        `json:"ingestRatioToBaselineUpdates"`
	HTTP              percentiles    `json:"httpAnswer"`
	Events            int            `json:"events,omitempty"`
	Converged         int            `json:"converged,omitempty"`
	Unconverged       int            `json:"unconverged,omitempty"`
	E2ESeconds        float64        `json:"e2eSeconds,omitempty"`
	E2EPerSec         float64        `json:"e2eEventsPerSec,omitempty"`
	PostToReady       percentiles    `json:"postToReady"`
	Writes            apiCounts      `json:"apiRequests"`
	PerDelivery       perDelivery    `json:"perDelivery"`
	ManagerCPUSeconds float64        `json:"managerCpuSeconds"`
	ManagerCPUMs      float64        `json:"managerCpuMsPerDelivery"`
	CPU               cpuFigures     `json:"cpu"`
	cpu               cpuShares

	send         *sendResult
	e2eLatencies []time.Duration
}

type perDelivery struct {
	EventWrites     float64 `json:"ingresseEventWrites"`
	ConfigMapWrites float64 `json:"configMapWrites"`
	StatusWrites    float64 `json:"statusWrites"`
	Total           float64 `json:"total"`
	KubeEvents      float64 `json:"kubernetesEvents"`
	Conflicts       float64 `json:"conflicts"`
	LiveGets        float64 `json:"liveGets"`
}

func (p *phase) rate() float64 {
	if p.send == nil || p.send.elapsed <= 0 {
		return 0
	}
	return float64(p.send.ok) / p.send.elapsed.Seconds()
}

func (a apiCounts) add(b apiCounts) apiCounts {
	out := apiCounts{
		EventWrites:      a.EventWrites + b.EventWrites,
		ConfigMapWrites:  a.ConfigMapWrites + b.ConfigMapWrites,
		StatusWrites:     a.StatusWrites + b.StatusWrites,
		KubeEventWrites:  a.KubeEventWrites + b.KubeEventWrites,
		Conflicts:        a.Conflicts + b.Conflicts,
		FailedWrites:     a.FailedWrites + b.FailedWrites,
		EventReads:       a.EventReads + b.EventReads,
		ConfigMapReads:   a.ConfigMapReads + b.ConfigMapReads,
		OtherWrites:      a.OtherWrites + b.OtherWrites,
		WritesByVerbKind: map[string]float64{},
	}
	for k, v := range a.WritesByVerbKind {
		out.WritesByVerbKind[k] += v
	}
	for k, v := range b.WritesByVerbKind {
		out.WritesByVerbKind[k] += v
	}
	return out
}

type summary struct {
	BaselineEventCreatesPerSec float64 `json:"baselineIngresseEventCreatesPerSec"`
	IngestNewRatio             float64 `json:"ingestNewRatio"`
	IngestChangedRatio         float64 `json:"ingestChangedRatio"`
	IngestChangedUpdateRatio   float64 `json:"ingestChangedRatioToBaselineUpdates"`
	WritesPerNew               float64 `json:"writesPerNewEvent"`
	WritesPerChanged           float64 `json:"writesPerChangedEvent"`
	WritesPerDuplicate         float64 `json:"writesPerDuplicate"`
	E2ENewPerSec               float64 `json:"e2eNewEventsPerSec"`
	E2ENewBound                float64 `json:"e2eNewBoundPerSec"`
	E2ENewRatio                float64 `json:"e2eNewRatio"`
	LifecycleWrites            float64 `json:"writesPerEventLifecycle"`
	E2ELifecyclePerSec         float64 `json:"e2eLifecycleEventsPerSec"`
	E2ELifecycleBound          float64 `json:"e2eLifecycleBoundPerSec"`
	E2ELifecycleRatio          float64 `json:"e2eLifecycleRatio"`
	RatedP99ms                 float64 `json:"ratedHttpP99ms"`
	RatedE2EP99ms              float64 `json:"ratedE2EHttpP99ms"`
	MaxRSSMiB                  float64 `json:"maxRssMiB"`
	RSSKiBPerEvent             float64 `json:"rssKiBPerEvent"`
	HeapKiBPerEvent            float64 `json:"heapKiBPerEvent"`
}

type target struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Goal  string `json:"goal"`
	Met   bool   `json:"met"`
}

type errorSummary struct {
	Total            int      `json:"total"`
	Non2xx           int      `json:"non2xx"`
	TransportErrors  int      `json:"transportErrors"`
	Unconverged      int      `json:"unconverged"`
	ManagerLogErrors int      `json:"managerLogErrors"`
	RequestFirst     []string `json:"firstRequestErrors,omitempty"`
	UnconvergedFirst []string `json:"firstUnconverged,omitempty"`
	ManagerLogFirst  []string `json:"firstManagerLogErrors,omitempty"`
}

func newResults(o options) *results {
	return &results{
		Machine: machine(),
		Options: map[string]any{"events": o.events, "updates": o.updates, "concurrency": o.concurrency, "smoke": o.smoke,
			"ratedSeconds": o.ratedSeconds, "managerArgs": o.managerArgs},
		Started: time.Now(),
	}
}

func (r *results) phase(name string) *phase {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	p := &phase{Name: name, send: newSendResult()}
	r.Phases = append(r.Phases, p)
	return p
}

// baselineAt is the mean of the baselines measured at concurrency c.
func (r *results) baselineAt(c int) baseline {
	mean := baseline{When: "mean", Concurrency: c}
	n := 0.0
	for _, b := range r.Baselines {
		if b.Concurrency == c {
			mean.Count += b.Count
			mean.EventCreatesPerSec += b.EventCreatesPerSec
			mean.EventUpdatesPerSec += b.EventUpdatesPerSec
			mean.ConfigMapCreatesPerSec += b.ConfigMapCreatesPerSec
			n++
		}
	}
	if n > 0 {
		mean.EventCreatesPerSec /= n
		mean.EventUpdatesPerSec /= n
		mean.ConfigMapCreatesPerSec /= n
	}
	return mean
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (r *results) concurrency() int {
	c, _ := r.Options["concurrency"].(int)
	return c
}

// finish derives every summary figure and target from the raw ones.
func (r *results) finish() {
	r.Seconds = time.Since(r.Started).Seconds()
	conc, _ := r.Options["concurrency"].(int)
	blC, bl1 := r.baselineAt(conc), r.baselineAt(1)
	for _, p := range r.Phases {
		s := p.send
		p.Deliveries, p.OK, p.Outcomes, p.Non2xx, p.TransportErrors = s.deliveries, s.ok, s.outcomes, s.non2xx, s.transportErrors
		p.SendSeconds = s.elapsed.Seconds()
		p.IngestPerSec = p.rate()
		base := blC
		if p.Concurrency == 1 {
			base = bl1
		}
		p.IngestRatio = ratio(p.IngestPerSec, base.EventCreatesPerSec)
		p.IngestUpdateRatio = ratio(p.IngestPerSec, base.EventUpdatesPerSec)
		p.HTTP = percentilesOf(s.latencies)
		p.PostToReady = percentilesOf(p.e2eLatencies)
		if p.E2ESeconds > 0 {
			p.E2EPerSec = float64(p.Converged) / p.E2ESeconds
		}
		n := float64(max(p.OK, 1))
		w := p.Writes
		p.PerDelivery = perDelivery{
			EventWrites: w.EventWrites / n, ConfigMapWrites: w.ConfigMapWrites / n, StatusWrites: w.StatusWrites / n,
			Total: w.operatorWrites() / n, KubeEvents: w.KubeEventWrites / n, Conflicts: w.Conflicts / n,
			LiveGets: (w.EventReads + w.ConfigMapReads) / n,
		}
		p.ManagerCPUMs = p.ManagerCPUSeconds * 1000 / n
		p.CPU = cpuFiguresOf(p.cpu, p.OK)
		r.Errors.Non2xx += s.errors() - s.transportErrors
		r.Errors.TransportErrors += s.transportErrors
		r.Errors.Unconverged += p.Unconverged
		for _, e := range s.firstErrors {
			if len(r.Errors.RequestFirst) < 5 {
				r.Errors.RequestFirst = append(r.Errors.RequestFirst, e)
			}
		}
	}
	r.Errors.Total = r.Errors.Non2xx + r.Errors.TransportErrors + r.Errors.Unconverged + r.Errors.ManagerLogErrors

	pn, pc, pd, pr := r.phase(phaseNew), r.phase(phaseChanged), r.phase(phaseDuplicate), r.phase(phaseRated)
	s := &r.Summary
	s.BaselineEventCreatesPerSec = blC.EventCreatesPerSec
	s.IngestNewRatio, s.IngestChangedRatio, s.IngestChangedUpdateRatio = pn.IngestRatio, pc.IngestRatio, pc.IngestUpdateRatio
	s.WritesPerNew, s.WritesPerChanged, s.WritesPerDuplicate = pn.PerDelivery.Total, pc.PerDelivery.Total, pd.PerDelivery.Total
	s.E2ENewPerSec = pn.E2EPerSec
	s.E2ENewBound = ratio(blC.EventCreatesPerSec, s.WritesPerNew)
	s.E2ENewRatio = ratio(s.E2ENewPerSec, s.E2ENewBound)
	if pn.Converged > 0 {
		s.LifecycleWrites = (pn.Writes.operatorWrites() + pc.Writes.operatorWrites()) / float64(pn.Converged)
		s.E2ELifecyclePerSec = ratio(float64(pc.Converged), pn.E2ESeconds+pc.E2ESeconds)
		s.E2ELifecycleBound = ratio(blC.EventCreatesPerSec, s.LifecycleWrites)
		s.E2ELifecycleRatio = ratio(s.E2ELifecyclePerSec, s.E2ELifecycleBound)
	}
	s.RatedP99ms = pr.HTTP.P99
	s.RatedE2EP99ms = r.phase(phaseRatedE2E).HTTP.P99
	for _, m := range r.Memory {
		s.MaxRSSMiB = max(s.MaxRSSMiB, m.PeakRSSMiB)
	}
	if len(r.Memory) >= 2 {
		first, last := r.Memory[0], r.Memory[len(r.Memory)-1]
		if d := float64(last.StoredEvents - first.StoredEvents); d > 0 {
			s.RSSKiBPerEvent = (last.RSSMiB - first.RSSMiB) * 1024 / d
			s.HeapKiBPerEvent = (last.HeapInuseMiB - first.HeapInuseMiB) * 1024 / d
		}
	}

	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	r.Targets = []target{
		{"ingest (new events) at C=" + strconv.Itoa(conc), f2(s.IngestNewRatio) + " × baseline creates", "≥ 0.8", s.IngestNewRatio >= 0.8},
		{"ingest (changed events) at C=" + strconv.Itoa(conc), f2(s.IngestChangedRatio) + " × baseline creates (" + f2(s.IngestChangedUpdateRatio) + " × updates)", "≥ 0.8", s.IngestChangedRatio >= 0.8},
		{"end to end, new events", f2(s.E2ENewRatio) + " × (baseline ÷ writes per event)", "≥ 0.6", s.E2ENewRatio >= 0.6},
		{"end to end, create + updates", f2(s.E2ELifecycleRatio) + " × (baseline ÷ writes per event)", "≥ 0.6", s.E2ELifecycleRatio >= 0.6},
		{"HTTP p99 at half the max ingest", f2(s.RatedP99ms) + " ms (at half the end-to-end rate: " + f2(s.RatedE2EP99ms) + " ms)", "< 100 ms", s.RatedP99ms > 0 && s.RatedP99ms < 100},
		{"writes per new event", f2(s.WritesPerNew), "≤ 3", s.WritesPerNew <= 3.001},
		{"writes per changed event", f2(s.WritesPerChanged), "≤ 2", s.WritesPerChanged <= 2.001},
		{"writes per duplicate delivery", f2(s.WritesPerDuplicate), "0", s.WritesPerDuplicate == 0},
		{"manager peak RSS", fmt.Sprintf("%.0f MiB at %d events", s.MaxRSSMiB, lastStored(r.Memory)), "< 150 MiB", s.MaxRSSMiB > 0 && s.MaxRSSMiB < 150},
		{"errors", strconv.Itoa(r.Errors.Total), "0", r.Errors.Total == 0},
	}
}

func lastStored(m []memory) int {
	if len(m) == 0 {
		return 0
	}
	return m[len(m)-1].StoredEvents
}

func (r *results) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// print writes the table.
func (r *results) print(out io.Writer) {
	m := r.Machine
	fmt.Fprintf(out, "\ningresse-operator benchmark: %v events, %v update rounds, C=%v\n", r.Options["events"], r.Options["updates"], r.Options["concurrency"])
	fmt.Fprintf(out, "manager: %s\n", r.Manager.How)
	fmt.Fprintf(out, "machine: %d CPUs (%s), %.0f GiB, %s, kube-apiserver v%s, etcd v%s, load at start %s\n\n",
		m.CPUs, m.CPUModel, m.MemGiB, m.GoVersion, m.KubeAPIServer, m.Etcd, m.LoadAtStart)

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells ...string) { fmt.Fprintln(w, strings.Join(cells, "\t")+"\t") }
	f0 := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	pct := func(p percentiles) string { return f0(p.P50) + " / " + f0(p.P95) + " / " + f0(p.P99) }

	line("BASELINE (client → API server)", "when", "C", "objects", "IngresseEvent creates/s", "IngresseEvent updates/s", "ConfigMap creates/s")
	for _, b := range r.Baselines {
		line("", b.When, strconv.Itoa(b.Concurrency), strconv.Itoa(b.Count), f0(b.EventCreatesPerSec), f0(b.EventUpdatesPerSec), f0(b.ConfigMapCreatesPerSec))
	}
	if m := r.baselineAt(r.concurrency()); m.Count > 0 {
		line("", "mean (ratios use it)", strconv.Itoa(m.Concurrency), "", f0(m.EventCreatesPerSec), f0(m.EventUpdatesPerSec), f0(m.ConfigMapCreatesPerSec))
	}
	line()
	line("WEBHOOKS (POST → receiver)", "C", "deliveries", "2xx/s", "× base creates", "× base updates", "HTTP p50/p95/p99 ms", "POST→Ready p50/p95/p99 ms", "e2e events/s", "mgr CPU ms/delivery")
	for _, p := range r.Phases {
		e2e, ready := "-", "-"
		if p.Events > 0 {
			e2e, ready = f0(p.E2EPerSec), pct(p.PostToReady)
		}
		name := p.Name
		if p.TargetRate > 0 {
			name += " @" + f0(p.TargetRate) + "/s"
		}
		line(name, strconv.Itoa(p.Concurrency), strconv.Itoa(p.Deliveries), f0(p.IngestPerSec), f2(p.IngestRatio), f2(p.IngestUpdateRatio), pct(p.HTTP), ready, e2e, f2(p.ManagerCPUMs))
	}
	line()
	line("API REQUESTS PER 2xx DELIVERY", "IngresseEvent", "ConfigMap", "status", "total writes", "k8s Events", "409s", "live GETs")
	for _, p := range r.Phases {
		d := p.PerDelivery
		line(p.Name, f2(d.EventWrites), f2(d.ConfigMapWrites), f2(d.StatusWrites), f2(d.Total), f2(d.KubeEvents), f2(d.Conflicts), f2(d.LiveGets))
	}
	line()
	s := r.Summary
	line("CPU: % OF THE MACHINE (ms per op)", "kube-apiserver", "etcd", "manager", "bench", "others", "idle")
	cpuLine := func(name string, c cpuFigures) {
		cell := func(pctv, msv float64) string { return f0(pctv) + "% (" + f2(msv) + ")" }
		line(name, cell(c.APIServerPct, c.APIServerMs), cell(c.EtcdPct, c.EtcdMs), cell(c.ManagerPct, c.ManagerMs),
			cell(c.BenchPct, c.BenchMs), cell(c.OthersPct, c.OthersMs), f0(c.IdlePct)+"%")
	}
	for _, b := range r.Baselines {
		cpuLine(fmt.Sprintf("baseline %s C=%d: IE create", b.When, b.Concurrency), b.CPUPerEventCreate)
		cpuLine("IE update", b.CPUPerEventUpdate)
		cpuLine("ConfigMap create", b.CPUPerConfigMapCreate)
	}
	for _, p := range r.Phases {
		cpuLine(p.Name, p.CPU)
	}
	line()
	line("END TO END (C="+fmt.Sprint(r.Options["concurrency"])+")", "events/s", "writes/event", "bound = baseline ÷ writes", "ratio")
	line("new events", f0(s.E2ENewPerSec), f2(s.WritesPerNew), f0(s.E2ENewBound), f2(s.E2ENewRatio))
	line("create + "+fmt.Sprint(r.Options["updates"])+" updates", f0(s.E2ELifecyclePerSec), f2(s.LifecycleWrites), f0(s.E2ELifecycleBound), f2(s.E2ELifecycleRatio))
	line()
	line("MANAGER MEMORY", "stored events", "RSS MiB", "peak RSS MiB", "heap in use MiB")
	for _, mem := range r.Memory {
		line("", strconv.Itoa(mem.StoredEvents), f0(mem.RSSMiB), f0(mem.PeakRSSMiB), f0(mem.HeapInuseMiB))
	}
	if s.RSSKiBPerEvent != 0 {
		line("growth per event (KiB)", "", f2(s.RSSKiBPerEvent), "", f2(s.HeapKiBPerEvent))
	}
	line()
	line("ERRORS", "non-2xx", "transport", "unconverged", "manager log")
	line("", strconv.Itoa(r.Errors.Non2xx), strconv.Itoa(r.Errors.TransportErrors), strconv.Itoa(r.Errors.Unconverged), strconv.Itoa(r.Errors.ManagerLogErrors))
	_ = w.Flush()

	fmt.Fprintln(out, "\nTARGETS")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets {
		verdict := "MET"
		if !t.Met {
			verdict = "NOT MET"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Name, t.Value, t.Goal, verdict)
	}
	_ = tw.Flush()
	for _, e := range append(append(r.Errors.RequestFirst, r.Errors.UnconvergedFirst...), r.Errors.ManagerLogFirst...) {
		fmt.Fprintln(out, "  error:", e)
	}
	fmt.Fprintf(out, "\n(%.0f s in all)\n", r.Seconds)
}
