package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ingresse-operator/ingresse-operator/internal/fakeingresse"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// The resync phase measures Ingresse's API as the source of truth: the
// controller, as config/overlays/ingresse-api installs it, sweeps a fake
// Ingresse API holding --events events into an empty namespace (the
// backfill), again with nothing changed, and again after a tenth of them
// changed in the API (webhooks lost). The targets: at most one write per
// changed event, none per unchanged one.

const (
	resyncNamespace = "bench-resync"
	resyncCompanyID = 1
	// resyncInterval is the pause between sweeps, long enough to tell
	// them apart in the metrics.
	resyncInterval = 5 * time.Second
)

// resyncResults are the figures of the resync phase.
type resyncResults struct {
	Events   int           `json:"events"`
	PageSize int           `json:"pageSize"`
	Args     []string      `json:"args"`
	Sweeps   []sweepResult `json:"sweeps"`
	// PeakRSSMiB is the controller's peak resident memory over the phase.
	PeakRSSMiB   float64 `json:"peakRssMiB"`
	HeapInuseMiB float64 `json:"heapInuseMiB"`
}

// sweepResult is one sweep: what it was given and what it cost.
type sweepResult struct {
	Name string `json:"name"`
	// Changed is how many events differ in the API from what is stored.
	Changed int     `json:"changed"`
	Seconds float64 `json:"seconds"`
	// EventWrites are the API server's IngresseEvent writes during the
	// sweep (the controller's status and ConfigMap writes apart).
	EventWrites float64 `json:"ingresseEventWrites"`
	EventReads  float64 `json:"ingresseEventGets"`
	// IngresseRequests are the requests the fake Ingresse API served.
	IngresseRequests int     `json:"ingresseRequests"`
	ManagerCPUSec    float64 `json:"managerCpuSeconds"`
	APIServerCPUSec  float64 `json:"apiServerCpuSeconds"`
	RSSMiB           float64 `json:"rssMiB"`
}

// resyncPhase runs the three sweeps and records them in b.res.Resync.
func (b *bench) resyncPhase(ctx context.Context) error {
	n, pageSize := b.o.events, 250
	fake := fakeingresse.New()
	t0 := time.Now().Add(-24 * time.Hour).UTC()
	for _, doc := range fakeingresse.SeedEvents(n, resyncCompanyID, 297229, t0) {
		fake.Put(doc)
	}
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	dir, err := os.MkdirTemp("", "bench-resync-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	credentials := filepath.Join(dir, "ingresse-api")
	if err := os.WriteFile(credentials, []byte(fake.Credentials()), 0o600); err != nil {
		return err
	}
	if err := b.env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: resyncNamespace}}); err != nil {
		return err
	}
	args := []string{"--enable-receiver=false", "--leader-elect",
		"--ingresse-api-credentials-file=" + credentials,
		"--ingresse-api-url=" + srv.URL + "/api", "--ingresse-event-url=" + srv.URL + "/event", "--ingresse-event-search-url=" + srv.URL + "/event-search",
		"--ingresse-company-id=" + strconv.Itoa(resyncCompanyID), "--ingresse-api-page-size=" + strconv.Itoa(pageSize),
		"--ingresse-api-qps=100", "--ingresse-resync-interval=" + resyncInterval.String()}
	res := &resyncResults{Events: n, PageSize: pageSize, Args: args}
	b.res.Resync = res

	before, err := b.api.counts(ctx)
	if err != nil {
		return err
	}
	cpuBefore, served, mgrCPU := b.cpu(nil), 0, time.Duration(0)
	mgr, err := b.env.StartManager(testenv.ManagerOptions{Namespace: resyncNamespace, Tokens: []string{b.token}, Binary: b.bin, Args: args})
	if err != nil {
		return err
	}
	defer mgr.Stop(30 * time.Second)
	b.log("resync: controller running (pid %d) against a fake Ingresse API holding %d events; log %s", mgr.Pid(), n, mgr.LogPath)

	for i, s := range []struct {
		name    string
		changed int
	}{{"backfill (empty namespace)", n}, {"nothing changed", 0}, {"a tenth changed, webhooks lost", n / 10}} {
		if i == 2 {
			if err := changeTitles(fake, s.changed, t0.Add(time.Hour)); err != nil {
				return err
			}
		}
		start := time.Now()
		if err := waitSweeps(ctx, mgr.MetricsURL, i+1, 20*time.Minute); err != nil {
			return fmt.Errorf("resync: %s: %w", s.name, err)
		}
		after, err := b.api.counts(ctx)
		if err != nil {
			return err
		}
		cpuAfter := b.cpu(nil)
		rss, peak, err := processMemory(mgr.Pid())
		if err != nil {
			return err
		}
		seconds, _ := managerMetric(ctx, mgr.MetricsURL, "ingresse_resync_last_sweep_duration_seconds")
		if seconds == 0 {
			seconds = time.Since(start).Seconds()
		}
		requests := fake.Requests("list") - served
		served = fake.Requests("list")
		w := after.sub(before)
		r := sweepResult{Name: s.name, Changed: s.changed, Seconds: seconds, EventWrites: w.EventWrites, EventReads: w.EventReads,
			IngresseRequests: requests, ManagerCPUSec: (processCPU(mgr.Pid()) - mgrCPU).Seconds(),
			APIServerCPUSec: (cpuAfter.APIServer - cpuBefore.APIServer).Seconds(), RSSMiB: rss}
		res.Sweeps = append(res.Sweeps, r)
		res.PeakRSSMiB = peak
		b.log("resync: %s: %.1f s, IngresseEvent writes %.0f (%d changed), gets %.0f, Ingresse requests %d, manager CPU %.1f s, API server CPU %.1f s, RSS %.0f MiB",
			s.name, r.Seconds, r.EventWrites, s.changed, r.EventReads, r.IngresseRequests, r.ManagerCPUSec, r.APIServerCPUSec, rss)
		// The next sweep is measured from here: it starts resyncInterval
		// after this one ended.
		before, cpuBefore, mgrCPU = after, cpuAfter, processCPU(mgr.Pid())
	}
	if heap, err := managerMetric(ctx, mgr.MetricsURL, "go_memstats_heap_inuse_bytes"); err == nil {
		res.HeapInuseMiB = heap / (1 << 20)
	}
	return nil
}

// changeTitles edits the title and updatedAt of the first n events in the
// fake API, as edits whose webhooks never arrived.
func changeTitles(fake *fakeingresse.Fake, n int, updatedAt time.Time) error {
	for id := int64(1); id <= int64(n); id++ {
		doc, ok := fake.Get(id)
		if !ok {
			return fmt.Errorf("the fake has no event %d", id)
		}
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			return err
		}
		m["title"] = fmt.Sprintf("changed in Ingresse %d", id)
		m["updatedAt"] = updatedAt.Format("2006-01-02T15:04:05.000000+00:00")
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		fake.Put(b)
	}
	return nil
}

// waitSweeps waits until the manager has completed n sweeps.
func waitSweeps(ctx context.Context, metricsURL string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		samples, err := testenv.Metrics(metricsURL)
		if err == nil && testenv.Sum(samples, "ingresse_resync_sweeps_total", `result="complete"`) >= float64(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("%d sweeps not complete after %s", n, timeout), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
