package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// sample is one Prometheus text-format sample.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetrics reads the samples of the named metrics from Prometheus text
// format (enough of it for the API server's and the manager's /metrics).
func parseMetrics(r io.Reader, names ...string) ([]sample, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if !want[name] {
			continue
		}
		s := sample{name: name, labels: map[string]string{}}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndex(rest, "}")
			if end < 0 {
				continue
			}
			parseLabels(rest[1:end], s.labels)
			rest = rest[end+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseLabels(s string, into map[string]string) {
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var val strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			val.WriteByte(s[i])
		}
		into[key] = val.String()
		s = strings.TrimPrefix(strings.TrimLeft(s[min(i+1, len(s)):], " "), ",")
	}
}

// apiCounts are API requests counted from kube-apiserver_request_total,
// by what they touched. Writes are successful (2xx) mutating requests.
type apiCounts struct {
	EventWrites      float64 `json:"ingresseEventWrites"`
	ConfigMapWrites  float64 `json:"configMapWrites"`
	StatusWrites     float64 `json:"statusWrites"`
	KubeEventWrites  float64 `json:"kubernetesEventWrites"`
	Conflicts        float64 `json:"conflicts"`
	FailedWrites     float64 `json:"failedWritesOther"`
	EventReads       float64 `json:"ingresseEventGets"`
	ConfigMapReads   float64 `json:"configMapGets"`
	OtherWrites      float64 `json:"otherWrites"`
	WritesByVerbKind map[string]float64
}

func (a apiCounts) sub(b apiCounts) apiCounts {
	out := apiCounts{
		EventWrites:      a.EventWrites - b.EventWrites,
		ConfigMapWrites:  a.ConfigMapWrites - b.ConfigMapWrites,
		StatusWrites:     a.StatusWrites - b.StatusWrites,
		KubeEventWrites:  a.KubeEventWrites - b.KubeEventWrites,
		Conflicts:        a.Conflicts - b.Conflicts,
		FailedWrites:     a.FailedWrites - b.FailedWrites,
		EventReads:       a.EventReads - b.EventReads,
		ConfigMapReads:   a.ConfigMapReads - b.ConfigMapReads,
		OtherWrites:      a.OtherWrites - b.OtherWrites,
		WritesByVerbKind: map[string]float64{},
	}
	for k, v := range a.WritesByVerbKind {
		if d := v - b.WritesByVerbKind[k]; d != 0 {
			out.WritesByVerbKind[k] = d
		}
	}
	return out
}

// operatorWrites are the writes the targets count: IngresseEvents,
// ConfigMaps and status (Kubernetes Events apart).
func (a apiCounts) operatorWrites() float64 {
	return a.EventWrites + a.ConfigMapWrites + a.StatusWrites
}

var writeVerbs = map[string]bool{"POST": true, "CREATE": true, "PUT": true, "UPDATE": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true}

// apiServer reads the API server's own /metrics.
type apiServer struct {
	client *http.Client
	url    string
}

func newAPIServer(cfg *rest.Config) (*apiServer, error) {
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &apiServer{client: c, url: strings.TrimSuffix(cfg.Host, "/") + "/metrics"}, nil
}

// scrape reads the API server's metrics of these names.
func (a *apiServer) scrape(ctx context.Context, names ...string) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", a.url, resp.Status)
	}
	return parseMetrics(resp.Body, names...)
}

func (a *apiServer) counts(ctx context.Context) (apiCounts, error) {
	samples, err := a.scrape(ctx, "apiserver_request_total")
	if err != nil {
		return apiCounts{}, err
	}
	c := apiCounts{WritesByVerbKind: map[string]float64{}}
	for _, s := range samples {
		verb, resource, sub := s.labels["verb"], s.labels["resource"], s.labels["subresource"]
		ok := strings.HasPrefix(s.labels["code"], "2")
		if verb == "GET" { // a 404 costs the API server a read too
			switch resource {
			case "ingresseevents":
				c.EventReads += s.value
			case "configmaps":
				c.ConfigMapReads += s.value
			}
			continue
		}
		if !writeVerbs[verb] {
			continue
		}
		if !ok {
			if s.labels["code"] == "409" {
				c.Conflicts += s.value
			} else {
				c.FailedWrites += s.value
			}
			continue
		}
		kind := resource
		if sub != "" {
			kind += "/" + sub
		}
		c.WritesByVerbKind[verb+" "+kind] += s.value
		switch {
		case resource == "ingresseevents" && sub == "":
			c.EventWrites += s.value
		case resource == "ingresseevents" && sub == "status":
			c.StatusWrites += s.value
		case resource == "configmaps" && sub == "":
			c.ConfigMapWrites += s.value
		case resource == "events":
			c.KubeEventWrites += s.value
		default:
			c.OtherWrites += s.value
		}
	}
	return c, nil
}

// memory is one manager process's memory at one moment.
type memory struct {
	Process      string  `json:"process"`
	StoredEvents int     `json:"storedEvents"`
	RSSMiB       float64 `json:"rssMiB"`
	PeakRSSMiB   float64 `json:"peakRssMiB"`
	HeapInuseMiB float64 `json:"heapInuseMiB"`
}

// processMemory reads VmRSS and VmHWM (peak RSS) of pid, in MiB.
func processMemory(pid int) (rss, peak float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak, nil
}

// processCPU is the CPU time pid has used (user + system).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start after ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	// USER_HZ is 100 on Linux.
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// managerMetric reads one unlabelled gauge from the manager's /metrics.
func managerMetric(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	samples, err := parseMetrics(resp.Body, name)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", url, err)
	}
	if len(samples) == 0 {
		return 0, fmt.Errorf("%s not found in %s", name, url)
	}
	return samples[0].value, nil
}

// logErrors counts the error-level lines in the manager's JSON log and
// returns the first few.
func logErrors(path string) (int, []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 1, []string{err.Error()}
	}
	n := 0
	var first []string
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if bytes.Contains(line, []byte(`"level":"error"`)) || bytes.Contains(line, []byte(`"level":"dpanic"`)) ||
			bytes.HasPrefix(line, []byte("E0")) || bytes.HasPrefix(line, []byte("E1")) || bytes.HasPrefix(line, []byte("panic")) {
			n++
			if len(first) < 5 {
				first = append(first, string(line[:min(len(line), 400)]))
			}
		}
	}
	return n, first
}

// cpuShares is the CPU time used by each process of the run, and by the
// whole machine, since boot.
type cpuShares struct {
	APIServer, Etcd, Bench, MachineBusy, MachineAll time.Duration
	// Managers are the manager processes of the topology being measured,
	// in its order.
	Managers []time.Duration
}

func (a cpuShares) sub(b cpuShares) cpuShares {
	return cpuShares{a.APIServer - b.APIServer, a.Etcd - b.Etcd, a.Bench - b.Bench,
		a.MachineBusy - b.MachineBusy, a.MachineAll - b.MachineAll, zipDurations(a.Managers, b.Managers, -1)}
}

func (a cpuShares) add(b cpuShares) cpuShares {
	return cpuShares{a.APIServer + b.APIServer, a.Etcd + b.Etcd, a.Bench + b.Bench,
		a.MachineBusy + b.MachineBusy, a.MachineAll + b.MachineAll, zipDurations(a.Managers, b.Managers, 1)}
}

// zipDurations is a[i] + sign*b[i], as long as the longer of the two.
func zipDurations(a, b []time.Duration, sign time.Duration) []time.Duration {
	out := make([]time.Duration, max(len(a), len(b)))
	for i := range out {
		if i < len(a) {
			out[i] = a[i]
		}
		if i < len(b) {
			out[i] += sign * b[i]
		}
	}
	return out
}

// managers is the CPU time of every manager process together.
func (a cpuShares) managers() time.Duration {
	var sum time.Duration
	for _, d := range a.Managers {
		sum += d
	}
	return sum
}

// others is the CPU time used by processes outside the run: on a shared
// machine, the noise under the figures.
func (a cpuShares) others() time.Duration {
	return max(a.MachineBusy-a.APIServer-a.Etcd-a.managers()-a.Bench, 0)
}

// controlPlanePids finds this process's kube-apiserver and etcd children.
func controlPlanePids() (apiserver, etcd int) {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(self) {
			continue
		}
		switch s[open+1 : end] {
		case "kube-apiserver":
			apiserver = pid
		case "etcd":
			etcd = pid
		}
	}
	return apiserver, etcd
}

// machineCPU is the machine's busy and total CPU time from /proc/stat.
func machineCPU() (busy, all time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	var total, idle int64
	for i, f := range fields[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	tick := 10 * time.Millisecond
	return time.Duration(total-idle) * tick, time.Duration(total) * tick
}

// dispatchedByLevel counts the requests API Priority and Fairness has
// dispatched, by priority level (apiserver_flowcontrol_dispatched_requests_total).
func (a *apiServer) dispatchedByLevel(ctx context.Context) (map[string]float64, error) {
	samples, err := a.scrape(ctx, "apiserver_flowcontrol_dispatched_requests_total")
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range samples {
		out[s.labels["priority_level"]] += s.value
	}
	return out, nil
}
