package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Phase kinds, in the order the tables show them.
const (
	phaseNew       = "new"
	phaseChanged   = "changed"
	phaseDuplicate = "duplicate"
	// phaseDuplicateCreate redelivers the event-create of stored events:
	// what creating first makes dearer (a refused create, then a read).
	phaseDuplicateCreate = "duplicate-create"
	phaseRatedE2E        = "rated-e2e"
	phaseRated50         = "rated-50"
	phaseNewC1           = "new-c1"
)

var phaseKinds = []string{phaseNew, phaseChanged, phaseDuplicate, phaseDuplicateCreate, phaseRatedE2E, phaseRated50, phaseNewC1}

type results struct {
	Machine       machineInfo        `json:"machine"`
	Options       map[string]any     `json:"options"`
	ManagerBinary string             `json:"managerBinary"`
	Baselines     []baseline         `json:"baselines"`
	Topologies    []*topologyResults `json:"topologies"`
	Resync        *resyncResults     `json:"resync,omitempty"`
	Summary       summary            `json:"summary"`
	Targets       []target           `json:"targets"`
	Errors        errorSummary       `json:"errors"`
	Started       time.Time          `json:"started"`
	Seconds       float64            `json:"seconds"`
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

// topologyResults are the figures of one topology.
type topologyResults struct {
	Name      string          `json:"name"`
	How       string          `json:"how"`
	Namespace string          `json:"namespace"`
	Processes []managerInfo   `json:"processes"`
	Phases    []*phase        `json:"phases"`
	Memory    []memory        `json:"memory"`
	Summary   topologySummary `json:"summary"`
	Errors    errorSummary    `json:"errors"`
	// DispatchedByLevel is how many requests API Priority and Fairness
	// dispatched in each priority level while the topology ran (its own
	// and the benchmark's).
	DispatchedByLevel map[string]float64 `json:"dispatchedByPriorityLevel,omitempty"`
}

// managerInfo is one manager process of a topology.
type managerInfo struct {
	Role   string   `json:"role"`
	Binary string   `json:"binary"`
	Args   []string `json:"args"`
	Pid    int      `json:"pid"`
	Log    string   `json:"log"`
	// ServiceAccount is who the process acted as ("" for the admin).
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// LeaderAfterSeconds is how long a leader-elected process took from
	// its start to holding its Lease.
	LeaderAfterSeconds float64  `json:"leaderAfterSeconds,omitempty"`
	LogErrors          int      `json:"logErrors"`
	LogFirst           []string `json:"firstLogErrors,omitempty"`
}

type baseline struct {
	When                   string    `json:"when"`
	Concurrency            int       `json:"concurrency"`
	Count                  int       `json:"count"`
	EventCreatesPerSec     float64   `json:"ingresseEventCreatesPerSec"`
	EventUpdatesPerSec     float64   `json:"ingresseEventUpdatesPerSec"`
	StatusWritesPerSec     float64   `json:"ingresseEventStatusWritesPerSec"`
	ConfigMapCreatesPerSec float64   `json:"configMapCreatesPerSec"`
	StatusRewritesPerSec   float64   `json:"ingresseEventStatusRewritesPerSec"`
	Writes                 apiCounts `json:"apiRequests"`
	// ConfigMapDataBytes is what each baseline ConfigMap's data weighs:
	// the controller's derived one for the seed payload.
	ConfigMapDataBytes int `json:"configMapDataBytes"`
	// CPU is over the five kinds of writes together; the others are
	// each kind's own.
	CPU                   cpuFigures `json:"cpu"`
	CPUPerEventCreate     cpuFigures `json:"cpuPerIngresseEventCreate"`
	CPUPerEventUpdate     cpuFigures `json:"cpuPerIngresseEventUpdate"`
	CPUPerStatusWrite     cpuFigures `json:"cpuPerIngresseEventStatusWrite"`
	CPUPerConfigMapCreate cpuFigures `json:"cpuPerConfigMapCreate"`
	CPUPerStatusRewrite   cpuFigures `json:"cpuPerIngresseEventStatusRewrite"`
}

// cpuFigures is where the machine's CPU went during a phase: each
// process's milliseconds per operation, and each one's share of the
// machine's capacity (all cores) over the phase. Manager is every manager
// process together; ManagerProcessMs is each one's, in the topology's
// order.
type cpuFigures struct {
	APIServerMs, EtcdMs, ManagerMs, BenchMs, OthersMs               float64
	APIServerPct, EtcdPct, ManagerPct, BenchPct, OthersPct, IdlePct float64
	ManagerProcessMs                                                []float64 `json:",omitempty"`
}

func cpuFiguresOf(c cpuShares, ops int) cpuFigures {
	n := float64(max(ops, 1))
	all := float64(max(c.MachineAll, 1))
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	pct := func(d time.Duration) float64 { return 100 * float64(d) / all }
	f := cpuFigures{
		APIServerMs: ms(c.APIServer), EtcdMs: ms(c.Etcd), ManagerMs: ms(c.managers()), BenchMs: ms(c.Bench), OthersMs: ms(c.others()),
		APIServerPct: pct(c.APIServer), EtcdPct: pct(c.Etcd), ManagerPct: pct(c.managers()), BenchPct: pct(c.Bench), OthersPct: pct(c.others()),
		IdlePct: pct(c.MachineAll - c.MachineBusy),
	}
	for _, d := range c.Managers {
		f.ManagerProcessMs = append(f.ManagerProcessMs, ms(d))
	}
	return f
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

// phase is the figures of one kind of phase of one topology, summed over
// the batches.
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
	// APIWriteP99Ms is the API server's own p99 for the IngresseEvent and
	// ConfigMap writes during the phase (its request duration histogram,
	// so a bucket's bound): the floor under the answers' latency.
	APIWriteP99Ms float64     `json:"apiWriteP99Ms"`
	Writes        apiCounts   `json:"apiRequests"`
	PerDelivery   perDelivery `json:"perDelivery"`
	// ManagerCPUMs is every manager process together; CPU holds each
	// one's (ManagerProcessMs).
	ManagerCPUMs float64    `json:"managerCpuMsPerDelivery"`
	CPU          cpuFigures `json:"cpu"`
	cpu          cpuShares

	send         *sendResult
	e2eLatencies []time.Duration
	apiWrites    histogram
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

// summary is what the topologies are compared with: the baseline at C
// (the mean of its start and end).
type summary struct {
	BaselineEventCreatesPerSec float64 `json:"baselineIngresseEventCreatesPerSec"`
	BaselineEventUpdatesPerSec float64 `json:"baselineIngresseEventUpdatesPerSec"`
	// The API server's CPU per bare write of each kind a new event needs,
	// and their sum.
	BareCreateAPIServerMs    float64 `json:"bareIngresseEventCreateApiServerMs"`
	BareConfigMapAPIServerMs float64 `json:"bareConfigMapCreateApiServerMs"`
	BareStatusAPIServerMs    float64 `json:"bareStatusWriteApiServerMs"`
	BareWritesAPIServerMs    float64 `json:"bareWritesApiServerMs"`
	// What a changed event's writes cost bare: an update and a status
	// write on an object that has one.
	BareUpdateAPIServerMs        float64 `json:"bareIngresseEventUpdateApiServerMs"`
	BareStatusRewriteAPIServerMs float64 `json:"bareStatusRewriteApiServerMs"`
}

// topologySummary is what the targets are judged on, for one topology.
type topologySummary struct {
	IngestNewRatio           float64 `json:"ingestNewRatio"`
	IngestChangedRatio       float64 `json:"ingestChangedRatio"`
	IngestChangedUpdateRatio float64 `json:"ingestChangedRatioToBaselineUpdates"`
	WritesPerNew             float64 `json:"writesPerNewEvent"`
	WritesPerChanged         float64 `json:"writesPerChangedEvent"`
	WritesPerDuplicate       float64 `json:"writesPerDuplicate"`
	E2ENewPerSec             float64 `json:"e2eNewEventsPerSec"`
	E2ENewBound              float64 `json:"e2eNewBoundPerSec"`
	E2ENewRatio              float64 `json:"e2eNewRatio"`
	LifecycleWrites          float64 `json:"writesPerEventLifecycle"`
	E2ELifecyclePerSec       float64 `json:"e2eLifecycleEventsPerSec"`
	E2ELifecycleBound        float64 `json:"e2eLifecycleBoundPerSec"`
	E2ELifecycleRatio        float64 `json:"e2eLifecycleRatio"`
	RatedE2ERate             float64 `json:"ratedE2ERatePerSec"`
	RatedE2EP99ms            float64 `json:"ratedE2EHttpP99ms"`
	Rated50P99ms             float64 `json:"rated50HttpP99ms"`
	// APIServerMsPerNew is the API server's CPU per new event, over the
	// new-event phases; APIServerRatio is it over the baseline's three
	// bare writes.
	APIServerMsPerNew float64 `json:"apiServerMsPerNewEvent"`
	APIServerRatio    float64 `json:"apiServerRatioToBareWrites"`
	// The API server's CPU per changed delivery (over a bare update and
	// status rewrite), per duplicate or stale one and per duplicate
	// event-create (each over one bare create).
	APIServerMsPerChanged         float64          `json:"apiServerMsPerChangedEvent"`
	APIServerChangedRatio         float64          `json:"apiServerChangedRatioToBareWrites"`
	APIServerMsPerDuplicate       float64          `json:"apiServerMsPerDuplicate"`
	APIServerDuplicateRatio       float64          `json:"apiServerDuplicateRatioToBareCreate"`
	APIServerMsPerDuplicateCreate float64          `json:"apiServerMsPerDuplicateCreate"`
	APIServerDuplicateCreateRatio float64          `json:"apiServerDuplicateCreateRatioToBareCreate"`
	LiveReadsPerNew               float64          `json:"liveReadsPerNewEvent"`
	WritesPerDuplicateCreate      float64          `json:"writesPerDuplicateCreate"`
	Rated50ReadyP99ms             float64          `json:"rated50PostToReadyP99ms"`
	Processes                     []processSummary `json:"processes"`
	// MaxRSSMiB is the largest process's peak RSS, SumPeakRSSMiB the sum
	// of every process's, StoredEvents the events stored at the last
	// memory sample.
	MaxRSSMiB     float64 `json:"maxRssMiB"`
	SumPeakRSSMiB float64 `json:"sumPeakRssMiB"`
	StoredEvents  int     `json:"storedEvents"`
}

// processSummary is the memory of one manager process over the ladder.
type processSummary struct {
	Role            string  `json:"role"`
	PeakRSSMiB      float64 `json:"peakRssMiB"`
	RSSKiBPerEvent  float64 `json:"rssKiBPerEvent"`
	HeapKiBPerEvent float64 `json:"heapKiBPerEvent"`
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

// add counts o's errors in e, their first messages prefixed with prefix.
func (e *errorSummary) add(o errorSummary, prefix string) {
	e.Total += o.Total
	e.Non2xx += o.Non2xx
	e.TransportErrors += o.TransportErrors
	e.Unconverged += o.Unconverged
	e.ManagerLogErrors += o.ManagerLogErrors
	for _, m := range o.RequestFirst {
		e.RequestFirst = append(e.RequestFirst, prefix+m)
	}
	for _, m := range o.UnconvergedFirst {
		e.UnconvergedFirst = append(e.UnconvergedFirst, prefix+m)
	}
	for _, m := range o.ManagerLogFirst {
		e.ManagerLogFirst = append(e.ManagerLogFirst, prefix+m)
	}
}

func newResults(o options) *results {
	return &results{
		Machine: machine(),
		Options: map[string]any{"events": o.events, "updates": o.updates, "concurrency": o.concurrency, "smoke": o.smoke,
			"ratedSeconds": o.ratedSeconds, "managerArgs": o.managerArgs, "oneProcessLadder": o.oneProcessLadder},
		Started: time.Now(),
	}
}

// phase is the phase of kind, added when it is not there yet.
func (t *topologyResults) phase(kind string) *phase {
	if p := t.find(kind); p != nil {
		return p
	}
	p := &phase{Name: kind, send: newSendResult()}
	t.Phases = append(t.Phases, p)
	return p
}

// find is the phase of kind, or nil.
func (t *topologyResults) find(kind string) *phase {
	for _, p := range t.Phases {
		if p.Name == kind {
			return p
		}
	}
	return nil
}

// figures is the phase of kind, or an empty one.
func (t *topologyResults) figures(kind string) *phase {
	if p := t.find(kind); p != nil {
		return p
	}
	return &phase{Name: kind}
}

// topology is the figures of the named topology (empty when it did not
// run).
func (r *results) topology(name string) *topologyResults {
	for _, t := range r.Topologies {
		if t.Name == name {
			return t
		}
	}
	return &topologyResults{Name: name}
}

// baselineAt is the mean of the baselines measured at concurrency c: their
// rates, and the API server's CPU per write of each kind.
func (r *results) baselineAt(c int) baseline {
	mean := baseline{When: "mean", Concurrency: c}
	n := 0.0
	for _, b := range r.Baselines {
		if b.Concurrency == c {
			mean.Count += b.Count
			mean.EventCreatesPerSec += b.EventCreatesPerSec
			mean.EventUpdatesPerSec += b.EventUpdatesPerSec
			mean.StatusWritesPerSec += b.StatusWritesPerSec
			mean.ConfigMapCreatesPerSec += b.ConfigMapCreatesPerSec
			mean.StatusRewritesPerSec += b.StatusRewritesPerSec
			mean.ConfigMapDataBytes = b.ConfigMapDataBytes
			mean.CPUPerStatusRewrite.APIServerMs += b.CPUPerStatusRewrite.APIServerMs
			mean.CPUPerEventCreate.APIServerMs += b.CPUPerEventCreate.APIServerMs
			mean.CPUPerEventUpdate.APIServerMs += b.CPUPerEventUpdate.APIServerMs
			mean.CPUPerStatusWrite.APIServerMs += b.CPUPerStatusWrite.APIServerMs
			mean.CPUPerConfigMapCreate.APIServerMs += b.CPUPerConfigMapCreate.APIServerMs
			n++
		}
	}
	if n > 0 {
		mean.EventCreatesPerSec /= n
		mean.EventUpdatesPerSec /= n
		mean.StatusWritesPerSec /= n
		mean.ConfigMapCreatesPerSec /= n
		mean.StatusRewritesPerSec /= n
		mean.CPUPerStatusRewrite.APIServerMs /= n
		mean.CPUPerEventCreate.APIServerMs /= n
		mean.CPUPerEventUpdate.APIServerMs /= n
		mean.CPUPerStatusWrite.APIServerMs /= n
		mean.CPUPerConfigMapCreate.APIServerMs /= n
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
	blC, bl1 := r.baselineAt(r.concurrency()), r.baselineAt(1)
	s := &r.Summary
	s.BaselineEventCreatesPerSec, s.BaselineEventUpdatesPerSec = blC.EventCreatesPerSec, blC.EventUpdatesPerSec
	s.BareCreateAPIServerMs = blC.CPUPerEventCreate.APIServerMs
	s.BareConfigMapAPIServerMs = blC.CPUPerConfigMapCreate.APIServerMs
	s.BareStatusAPIServerMs = blC.CPUPerStatusWrite.APIServerMs
	s.BareWritesAPIServerMs = s.BareCreateAPIServerMs + s.BareConfigMapAPIServerMs + s.BareStatusAPIServerMs
	s.BareUpdateAPIServerMs = blC.CPUPerEventUpdate.APIServerMs
	s.BareStatusRewriteAPIServerMs = blC.CPUPerStatusRewrite.APIServerMs
	for _, t := range r.Topologies {
		t.finishPhases(blC, bl1)
		t.summarise(blC, *s)
		r.Errors.add(t.Errors, t.Name+": ")
	}
	r.Targets = append(r.targets(), r.resyncTargets()...)
}

// finishPhases derives each phase's figures and counts its errors.
func (t *topologyResults) finishPhases(blC, bl1 baseline) {
	for _, p := range t.Phases {
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
		p.APIWriteP99Ms = 1000 * p.apiWrites.quantile(0.99)
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
		p.CPU = cpuFiguresOf(p.cpu, p.OK)
		p.ManagerCPUMs = p.CPU.ManagerMs
		t.Errors.Non2xx += s.errors() - s.transportErrors
		t.Errors.TransportErrors += s.transportErrors
		t.Errors.Unconverged += p.Unconverged
		for _, e := range s.firstErrors {
			if len(t.Errors.RequestFirst) < 5 {
				t.Errors.RequestFirst = append(t.Errors.RequestFirst, e)
			}
		}
	}
	for _, m := range t.Processes {
		t.Errors.ManagerLogErrors += m.LogErrors
		for _, e := range m.LogFirst {
			t.Errors.ManagerLogFirst = append(t.Errors.ManagerLogFirst, m.Role+": "+e)
		}
	}
	e := &t.Errors
	e.Total = e.Non2xx + e.TransportErrors + e.Unconverged + e.ManagerLogErrors
}

// summarise derives the figures the targets are judged on.
func (t *topologyResults) summarise(blC baseline, bare summary) {
	pn, pc, pd, pdc := t.figures(phaseNew), t.figures(phaseChanged), t.figures(phaseDuplicate), t.figures(phaseDuplicateCreate)
	s := &t.Summary
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
	re := t.figures(phaseRatedE2E)
	s.RatedE2ERate, s.RatedE2EP99ms = re.TargetRate, re.HTTP.P99
	r50 := t.figures(phaseRated50)
	s.Rated50P99ms, s.Rated50ReadyP99ms = r50.HTTP.P99, r50.PostToReady.P99
	s.APIServerMsPerNew = pn.CPU.APIServerMs
	s.APIServerRatio = ratio(s.APIServerMsPerNew, bare.BareWritesAPIServerMs)
	s.APIServerMsPerChanged = pc.CPU.APIServerMs
	s.APIServerChangedRatio = ratio(s.APIServerMsPerChanged, bare.BareUpdateAPIServerMs+bare.BareStatusRewriteAPIServerMs)
	s.APIServerMsPerDuplicate = pd.CPU.APIServerMs
	s.APIServerDuplicateRatio = ratio(s.APIServerMsPerDuplicate, bare.BareCreateAPIServerMs)
	s.APIServerMsPerDuplicateCreate = pdc.CPU.APIServerMs
	s.APIServerDuplicateCreateRatio = ratio(s.APIServerMsPerDuplicateCreate, bare.BareCreateAPIServerMs)
	s.LiveReadsPerNew = pn.PerDelivery.LiveGets
	s.WritesPerDuplicateCreate = pdc.PerDelivery.Total
	s.Processes = nil
	for _, m := range t.Processes {
		ps := summariseMemory(m.Role, t.Memory)
		s.Processes = append(s.Processes, ps)
		s.MaxRSSMiB = max(s.MaxRSSMiB, ps.PeakRSSMiB)
		s.SumPeakRSSMiB += ps.PeakRSSMiB
	}
	if len(t.Memory) > 0 {
		s.StoredEvents = t.Memory[len(t.Memory)-1].StoredEvents
	}
}

// summariseMemory is the peak RSS of the process of role and how its
// memory grew per stored event, from the first sample to the last.
func summariseMemory(role string, samples []memory) processSummary {
	ps := processSummary{Role: role}
	var mine []memory
	for _, m := range samples {
		if m.Process == role {
			mine = append(mine, m)
			ps.PeakRSSMiB = max(ps.PeakRSSMiB, m.PeakRSSMiB)
		}
	}
	if len(mine) >= 2 {
		first, last := mine[0], mine[len(mine)-1]
		if d := float64(last.StoredEvents - first.StoredEvents); d > 0 {
			ps.RSSKiBPerEvent = (last.RSSMiB - first.RSSMiB) * 1024 / d
			ps.HeapKiBPerEvent = (last.HeapInuseMiB - first.HeapInuseMiB) * 1024 / d
		}
	}
	return ps
}

// targets judges the installed topology; the one-process topology's
// figure is shown next to each.
func (r *results) targets() []target {
	inst, one := r.topology(topologyInstalled), r.topology(topologyOneProcess)
	a, o := inst.Summary, one.Summary
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" }
	alone := func(v string) string { return "  (one process: " + v + ")" }
	conc := strconv.Itoa(r.concurrency())
	s := r.Summary
	return []target{
		{"API server CPU per new event, installed", fmt.Sprintf("%s = %s × its 3 bare writes (%.2f + %.2f + %.2f ms)", ms(a.APIServerMsPerNew), f2(a.APIServerRatio),
			s.BareCreateAPIServerMs, s.BareConfigMapAPIServerMs, s.BareStatusAPIServerMs) + alone(f2(o.APIServerRatio)+" ×"), "≤ 1.15", a.APIServerRatio > 0 && a.APIServerRatio <= 1.15},
		{"API server CPU per duplicate or stale delivery, installed", fmt.Sprintf("%s = %s × a bare create (%.2f ms)", ms(a.APIServerMsPerDuplicate), f2(a.APIServerDuplicateRatio), s.BareCreateAPIServerMs) +
			alone(f2(o.APIServerDuplicateRatio)+" ×"), "≤ 0.5", a.APIServerDuplicateRatio > 0 && a.APIServerDuplicateRatio <= 0.5},
		{"API server CPU per duplicate event-create, installed", fmt.Sprintf("%s = %s × a bare create", ms(a.APIServerMsPerDuplicateCreate), f2(a.APIServerDuplicateCreateRatio)) +
			alone(f2(o.APIServerDuplicateCreateRatio)+" ×"), "≤ 0.5", a.APIServerDuplicateCreateRatio > 0 && a.APIServerDuplicateCreateRatio <= 0.5},
		{"new-event ingest, installed, C=" + conc, f2(a.IngestNewRatio) + " × baseline creates" + alone(f2(o.IngestNewRatio)), "≥ 0.8", a.IngestNewRatio >= 0.8},
		{"changed-event ingest, installed, C=" + conc, f2(a.IngestChangedUpdateRatio) + " × baseline updates" + alone(f2(o.IngestChangedUpdateRatio)), "≥ 0.8", a.IngestChangedUpdateRatio >= 0.8},
		{"end to end, new events, installed", f2(a.E2ENewRatio) + " × (baseline ÷ writes per event)" + alone(f2(o.E2ENewRatio)), "≥ 0.65", a.E2ENewRatio >= 0.65},
		{fmt.Sprintf("HTTP p99 at %d/s, installed", fixedRate), ms(a.Rated50P99ms) + alone(ms(o.Rated50P99ms)), "< 50 ms", a.Rated50P99ms > 0 && a.Rated50P99ms < 50},
		{fmt.Sprintf("POST→Ready p99 at %d/s, installed", fixedRate), ms(a.Rated50ReadyP99ms) + alone(ms(o.Rated50ReadyP99ms)), "< 500 ms", a.Rated50ReadyP99ms > 0 && a.Rated50ReadyP99ms < 500},
		{"live reads per new event (event-create), installed", liveReads(inst) + alone(liveReads(one)), "0", a.LiveReadsPerNew == 0},
		{"writes per new event, installed", f2(a.WritesPerNew) + alone(f2(o.WritesPerNew)), "≤ 3", a.WritesPerNew <= 3.001},
		{"writes per changed event, installed", f2(a.WritesPerChanged) + alone(f2(o.WritesPerChanged)), "≤ 2", a.WritesPerChanged <= 2.001},
		{"writes per duplicate (redelivered, stale or event-create), installed", f2(a.WritesPerDuplicate) + " / " + f2(a.WritesPerDuplicateCreate) +
			alone(f2(o.WritesPerDuplicate)+" / "+f2(o.WritesPerDuplicateCreate)), "0", a.WritesPerDuplicate == 0 && a.WritesPerDuplicateCreate == 0},
		{"manager peak RSS, installed", peakRSS(inst) + alone(peakRSS(one)), "< 150 MiB each", a.MaxRSSMiB > 0 && a.MaxRSSMiB < 150},
		{"errors", fmt.Sprintf("%d  (installed %d, one process %d)", r.Errors.Total, inst.Errors.Total, one.Errors.Total), "0", r.Errors.Total == 0},
	}
}

// liveReads is the live GETs of the new-event phases, per event and in all
// (the receiver's and the controller's).
func liveReads(t *topologyResults) string {
	p := t.figures(phaseNew)
	return fmt.Sprintf("%.4f (%.0f in %d)", p.PerDelivery.LiveGets, p.Writes.EventReads+p.Writes.ConfigMapReads, p.OK)
}

// peakRSS says each process's peak RSS, and their sum when there are
// several.
func peakRSS(t *topologyResults) string {
	var parts []string
	for _, p := range t.Summary.Processes {
		parts = append(parts, fmt.Sprintf("%s %.0f", p.Role, p.PeakRSSMiB))
	}
	s := strings.Join(parts, ", ")
	if len(parts) > 1 {
		s += fmt.Sprintf(" (sum %.0f)", t.Summary.SumPeakRSSMiB)
	}
	return fmt.Sprintf("%s MiB at %d events", s, t.Summary.StoredEvents)
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

// print writes the tables and the targets.
func (r *results) print(out io.Writer) {
	r.printHeader(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells ...string) { fmt.Fprintln(w, strings.Join(cells, "\t")+"\t") }
	for _, table := range []func(func(...string)){
		r.printAPIServerCPU, r.printBaselines, r.printWebhooks, r.printRequests, r.printCPU, r.printEndToEnd, r.printMemory, r.printResync, r.printErrors,
	} {
		table(line)
		line()
	}
	_ = w.Flush()
	r.printTargets(out)
	fmt.Fprintf(out, "\n(%.0f s in all)\n", r.Seconds)
}

func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func (r *results) printHeader(out io.Writer) {
	m := r.Machine
	fmt.Fprintf(out, "\ningresse-operator benchmark: %v events per topology, %v update rounds, C=%v\n", r.Options["events"], r.Options["updates"], r.Options["concurrency"])
	fmt.Fprintf(out, "manager binary: %s, run by testenv.StartManager; topologies, one after the other, each on its own namespace and event ids:\n", r.ManagerBinary)
	for _, t := range r.Topologies {
		fmt.Fprintf(out, "  %s: %s\n", t.Name, t.How)
		for _, p := range t.Processes {
			led := ""
			if p.LeaderAfterSeconds > 0 {
				led = fmt.Sprintf(" (held its Lease %.1f s after it started)", p.LeaderAfterSeconds)
			}
			as := "the admin"
			if p.ServiceAccount != "" {
				as = "ServiceAccount " + p.ServiceAccount
			}
			fmt.Fprintf(out, "    %s (as %s): %s%s\n", p.Role, as, strings.Join(p.Args, " "), led)
		}
		if len(t.DispatchedByLevel) > 0 {
			fmt.Fprintf(out, "    requests dispatched by priority level: %s\n", levels(t.DispatchedByLevel))
		}
	}
	fmt.Fprintf(out, "machine: %d CPUs (%s), %.0f GiB, %s, kube-apiserver v%s, etcd v%s, load at start %s\n\n",
		m.CPUs, m.CPUModel, m.MemGiB, m.GoVersion, m.KubeAPIServer, m.Etcd, m.LoadAtStart)
}

// phases calls row for every phase, kind by kind, each topology's next to
// the others'.
func (r *results) phases(row func(t *topologyResults, p *phase)) {
	for _, kind := range phaseKinds {
		for _, t := range r.Topologies {
			if p := t.find(kind); p != nil {
				row(t, p)
			}
		}
	}
}

func (r *results) printBaselines(line func(...string)) {
	line("BASELINE (client → API server, as the operator writes)", "when", "C", "objects", "IngresseEvent creates/s", "IngresseEvent updates/s", "status writes/s",
		"ConfigMap creates/s", "status rewrites/s", "ConfigMap data bytes")
	for _, b := range r.Baselines {
		line("", b.When, strconv.Itoa(b.Concurrency), strconv.Itoa(b.Count), f0(b.EventCreatesPerSec), f0(b.EventUpdatesPerSec), f0(b.StatusWritesPerSec),
			f0(b.ConfigMapCreatesPerSec), f0(b.StatusRewritesPerSec), strconv.Itoa(b.ConfigMapDataBytes))
	}
	if m := r.baselineAt(r.concurrency()); m.Count > 0 {
		line("", "mean (ratios use it)", strconv.Itoa(m.Concurrency), "", f0(m.EventCreatesPerSec), f0(m.EventUpdatesPerSec), f0(m.StatusWritesPerSec),
			f0(m.ConfigMapCreatesPerSec), f0(m.StatusRewritesPerSec), strconv.Itoa(m.ConfigMapDataBytes))
	}
}

func (r *results) printWebhooks(line func(...string)) {
	pct := func(p percentiles) string { return f0(p.P50) + " / " + f0(p.P95) + " / " + f0(p.P99) }
	line("WEBHOOKS (POST → receiver)", "topology", "C", "deliveries", "2xx/s", "× base creates", "× base updates", "HTTP p50/p95/p99 ms",
		"POST→Ready p50/p95/p99 ms", "API server write p99 ms", "e2e events/s", "mgr CPU ms/delivery", "receiver + controller")
	r.phases(func(t *topologyResults, p *phase) {
		e2e, ready := "-", "-"
		if p.Events > 0 {
			e2e, ready = f0(p.E2EPerSec), pct(p.PostToReady)
		}
		name := p.Name
		if p.TargetRate > 0 {
			name += " @" + f0(p.TargetRate) + "/s"
		}
		line(name, t.Name, strconv.Itoa(p.Concurrency), strconv.Itoa(p.Deliveries), f0(p.IngestPerSec), f2(p.IngestRatio), f2(p.IngestUpdateRatio),
			pct(p.HTTP), ready, writeP99(p.APIWriteP99Ms), e2e, f2(p.ManagerCPUMs), perProcess(p.CPU.ManagerProcessMs))
	})
}

// writeP99 is the API server's write p99, a bucket's bound ("-" for a
// phase that wrote nothing).
func writeP99(ms float64) string {
	if ms == 0 {
		return "-"
	}
	return "≤ " + f0(ms)
}

// perProcess is each process's figure, when there are several.
func perProcess(v []float64) string {
	if len(v) < 2 {
		return "-"
	}
	var parts []string
	for _, x := range v {
		parts = append(parts, f2(x))
	}
	return strings.Join(parts, " + ")
}

func (r *results) printRequests(line func(...string)) {
	line("API REQUESTS PER 2xx DELIVERY", "topology", "IngresseEvent", "ConfigMap", "status", "total writes", "k8s Events", "409s", "live GETs")
	r.phases(func(t *topologyResults, p *phase) {
		d := p.PerDelivery
		line(p.Name, t.Name, f2(d.EventWrites), f2(d.ConfigMapWrites), f2(d.StatusWrites), f2(d.Total), f2(d.KubeEvents), f2(d.Conflicts), f2(d.LiveGets))
	})
}

func (r *results) printCPU(line func(...string)) {
	line("CPU: % OF THE MACHINE (ms per op)", "topology", "kube-apiserver", "etcd", "manager(s)", "bench", "others", "idle")
	cpuLine := func(name, topology string, c cpuFigures) {
		cell := func(pctv, msv float64) string { return f0(pctv) + "% (" + f2(msv) + ")" }
		line(name, topology, cell(c.APIServerPct, c.APIServerMs), cell(c.EtcdPct, c.EtcdMs), cell(c.ManagerPct, c.ManagerMs),
			cell(c.BenchPct, c.BenchMs), cell(c.OthersPct, c.OthersMs), f0(c.IdlePct)+"%")
	}
	for _, b := range r.Baselines {
		cpuLine(fmt.Sprintf("baseline %s C=%d: IE create", b.When, b.Concurrency), "", b.CPUPerEventCreate)
		cpuLine("IE update", "", b.CPUPerEventUpdate)
		cpuLine("IE status write", "", b.CPUPerStatusWrite)
		cpuLine("ConfigMap create", "", b.CPUPerConfigMapCreate)
		cpuLine("IE status rewrite", "", b.CPUPerStatusRewrite)
	}
	r.phases(func(t *topologyResults, p *phase) { cpuLine(p.Name, t.Name, p.CPU) })
}

// printAPIServerCPU leads the report: the API server's CPU per event of
// each kind against the bare writes it is judged by, a figure that does not
// depend on how the machine's cores were shared.
func (r *results) printAPIServerCPU(line func(...string)) {
	s := r.Summary
	line("API SERVER CPU PER EVENT (C="+strconv.Itoa(r.concurrency())+")", "topology", "kube-apiserver ms", "bare writes ms", "ratio")
	line("bare: IE create + ConfigMap + status", "baseline",
		fmt.Sprintf("%s + %s + %s", f2(s.BareCreateAPIServerMs), f2(s.BareConfigMapAPIServerMs), f2(s.BareStatusAPIServerMs)), f2(s.BareWritesAPIServerMs), "1.00")
	line("bare: IE update + status rewrite", "baseline", fmt.Sprintf("%s + %s", f2(s.BareUpdateAPIServerMs), f2(s.BareStatusRewriteAPIServerMs)),
		f2(s.BareUpdateAPIServerMs+s.BareStatusRewriteAPIServerMs), "1.00")
	for _, t := range r.Topologies {
		ts := t.Summary
		line(phaseNew+" (÷ create + ConfigMap + status)", t.Name, f2(ts.APIServerMsPerNew), f2(s.BareWritesAPIServerMs), f2(ts.APIServerRatio))
		line(phaseChanged+" (÷ update + status rewrite)", t.Name, f2(ts.APIServerMsPerChanged), f2(s.BareUpdateAPIServerMs+s.BareStatusRewriteAPIServerMs), f2(ts.APIServerChangedRatio))
		line(phaseDuplicate+" (÷ create)", t.Name, f2(ts.APIServerMsPerDuplicate), f2(s.BareCreateAPIServerMs), f2(ts.APIServerDuplicateRatio))
		line(phaseDuplicateCreate+" (÷ create)", t.Name, f2(ts.APIServerMsPerDuplicateCreate), f2(s.BareCreateAPIServerMs), f2(ts.APIServerDuplicateCreateRatio))
	}
}

func (r *results) printEndToEnd(line func(...string)) {
	line("END TO END (C="+strconv.Itoa(r.concurrency())+")", "topology", "events/s", "writes/event", "bound = baseline ÷ writes", "ratio")
	for _, t := range r.Topologies {
		s := t.Summary
		line("new events", t.Name, f0(s.E2ENewPerSec), f2(s.WritesPerNew), f0(s.E2ENewBound), f2(s.E2ENewRatio))
	}
	for _, t := range r.Topologies {
		s := t.Summary
		line("create + "+fmt.Sprint(r.Options["updates"])+" updates", t.Name, f0(s.E2ELifecyclePerSec), f2(s.LifecycleWrites), f0(s.E2ELifecycleBound), f2(s.E2ELifecycleRatio))
	}
}

// printMemory prints each process's samples, and for a topology of several
// processes their sum at each sample.
func (r *results) printMemory(line func(...string)) {
	line("MANAGER MEMORY", "topology", "process", "stored events", "RSS MiB", "peak RSS MiB", "heap in use MiB")
	for _, t := range r.Topologies {
		n := max(len(t.Processes), 1)
		for i := 0; i < len(t.Memory); i += n {
			sample := t.Memory[i:min(i+n, len(t.Memory))]
			var sum memory
			for _, m := range sample {
				line("", t.Name, m.Process, strconv.Itoa(m.StoredEvents), f0(m.RSSMiB), f0(m.PeakRSSMiB), f0(m.HeapInuseMiB))
				sum.RSSMiB, sum.PeakRSSMiB, sum.HeapInuseMiB = sum.RSSMiB+m.RSSMiB, sum.PeakRSSMiB+m.PeakRSSMiB, sum.HeapInuseMiB+m.HeapInuseMiB
			}
			if len(sample) > 1 {
				line("", t.Name, "sum", strconv.Itoa(sample[0].StoredEvents), f0(sum.RSSMiB), f0(sum.PeakRSSMiB), f0(sum.HeapInuseMiB))
			}
		}
	}
	for _, t := range r.Topologies {
		for _, p := range t.Summary.Processes {
			if p.RSSKiBPerEvent != 0 {
				line("growth per event (KiB)", t.Name, p.Role, "", f2(p.RSSKiBPerEvent), "", f2(p.HeapKiBPerEvent))
			}
		}
	}
}

func (r *results) printErrors(line func(...string)) {
	line("ERRORS", "topology", "non-2xx", "transport", "unconverged", "manager log")
	for _, t := range r.Topologies {
		e := t.Errors
		line("", t.Name, strconv.Itoa(e.Non2xx), strconv.Itoa(e.TransportErrors), strconv.Itoa(e.Unconverged), strconv.Itoa(e.ManagerLogErrors))
	}
}

func (r *results) printResync(line func(...string)) {
	if r.Resync == nil {
		return
	}
	line(fmt.Sprintf("RESYNC (controller sweeping %d events, pages of %d)", r.Resync.Events, r.Resync.PageSize), "changed", "seconds", "IE writes", "IE gets", "Ingresse requests", "manager CPU s", "API server CPU s", "RSS MiB")
	for _, s := range r.Resync.Sweeps {
		line(s.Name, strconv.Itoa(s.Changed), f2(s.Seconds), f0(s.EventWrites), f0(s.EventReads), strconv.Itoa(s.IngresseRequests), f2(s.ManagerCPUSec), f2(s.APIServerCPUSec), f0(s.RSSMiB))
	}
}

// printResyncOnly prints a --resync-only run: its table and targets.
func (r *results) printResyncOnly(out io.Writer) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	r.printResync(func(cells ...string) { fmt.Fprintln(w, strings.Join(cells, "\t")+"\t") })
	_ = w.Flush()
	r.printTargets(out)
	fmt.Fprintf(out, "\n(%.0f s in all)\n", r.Seconds)
}

// resyncTargets judge the sweeps: at most one write per changed event, none
// per unchanged one.
func (r *results) resyncTargets() []target {
	if r.Resync == nil || len(r.Resync.Sweeps) < 3 {
		return nil
	}
	unchanged, changed := r.Resync.Sweeps[1], r.Resync.Sweeps[2]
	perChanged := changed.EventWrites / float64(max(changed.Changed, 1))
	return []target{
		{"sweep writes per changed event", f2(perChanged) + fmt.Sprintf(" (%0.f writes, %d changed)", changed.EventWrites, changed.Changed), "≤ 1", perChanged <= 1},
		{"sweep writes per unchanged event", fmt.Sprintf("%.0f writes for %d events", unchanged.EventWrites, r.Resync.Events), "0", unchanged.EventWrites == 0},
	}
}

func (r *results) printTargets(out io.Writer) {
	printTargetTable(out, "TARGETS (judged on the installed topology)", r.Targets)
	for _, e := range append(append(r.Errors.RequestFirst, r.Errors.UnconvergedFirst...), r.Errors.ManagerLogFirst...) {
		fmt.Fprintln(out, "  error:", e)
	}
}

// printTargetTable prints targets under a title, each MET or NOT MET.
func printTargetTable(out io.Writer, title string, targets []target) {
	fmt.Fprintln(out, "\n"+title)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range targets {
		verdict := "MET"
		if !t.Met {
			verdict = "NOT MET"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Name, t.Value, t.Goal, verdict)
	}
	_ = tw.Flush()
}

// levels is each priority level's count, by name.
func levels(m map[string]float64) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.0f", name, m[name]))
	}
	return strings.Join(parts, ", ")
}
