package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/fakeingresse"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// The tests of Ingresse's API as the source of truth run the manager binary
// against the test control plane and a fake Ingresse API (internal/fakeingresse)
// that serves the shapes of shared/ingresse. They are not parallel: some
// count the API server's writes, which it counts for every namespace.

const (
	fakeCompanyID  = 77
	fakeProducerID = 88
	resyncToken    = "resync-token-0123456789"
)

// withFake starts a fake Ingresse API and the manager binary pointed at it,
// sweeping the fake company's listing every interval (0: no sweep).
func withFake(t *testing.T, ns string, fake *fakeingresse.Fake, interval time.Duration, args ...string) *testenv.Manager {
	t.Helper()
	opts, _ := fakeManagerOptions(t, ns, fake, fake.Credentials(), interval, args...)
	return startReady(t, opts)
}

// fakeManagerOptions are the options of a manager pointed at a fake
// Ingresse API, with credentials as its credentials file (at the path
// returned), sweeping the fake company's listing every interval (0: no
// sweep).
func fakeManagerOptions(t *testing.T, ns string, fake *fakeingresse.Fake, credentials string, interval time.Duration, args ...string) (testenv.ManagerOptions, string) {
	t.Helper()
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	path := filepath.Join(dir, "ingresse-api")
	if err := os.WriteFile(path, []byte(credentials), 0o600); err != nil {
		t.Fatal(err)
	}
	return testenv.ManagerOptions{
		Namespace: ns,
		Tokens:    []string{resyncToken},
		Dir:       dir,
		Args: append([]string{
			"--ingresse-api-credentials-file=" + path,
			"--ingresse-api-url=" + srv.URL + "/api",
			"--ingresse-event-url=" + srv.URL + "/event",
			"--ingresse-event-search-url=" + srv.URL + "/event-search",
			"--ingresse-company-id=" + strconv.Itoa(fakeCompanyID),
			"--ingresse-api-qps=1000",
			"--ingresse-api-page-size=250",
			"--ingresse-resync-interval=" + interval.String(),
			"--max-concurrent-reconciles=8",
		}, args...),
	}, path
}

// startReady starts the manager binary, waits for its readiness, and stops
// it when the test ends (printing its log if the test failed).
func startReady(t *testing.T, opts testenv.ManagerOptions) *testenv.Manager {
	t.Helper()
	m, err := env.StartManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("manager log:\n%s", m.Log())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

// metric reads one summed metric of the manager.
func metric(t *testing.T, m *testenv.Manager, name string, labels ...string) float64 {
	t.Helper()
	samples, err := testenv.Metrics(m.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Sum(samples, name, labels...)
}

// completeSweeps is how many sweeps the manager has completed.
func completeSweeps(t *testing.T, m *testenv.Manager) int {
	return int(metric(t, m, "ingresse_resync_sweeps_total", `result="complete"`))
}

// waitSweeps waits until the manager has completed at least n sweeps.
func waitSweeps(t *testing.T, m *testenv.Manager, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d complete sweeps", n), func() error {
		if got := completeSweeps(t, m); got < n {
			return fmt.Errorf("%d complete", got)
		}
		return nil
	})
}

// eventWrites reads the API server's count of IngresseEvent writes.
func eventWrites(t *testing.T) float64 {
	t.Helper()
	w, err := env.IngresseEventWrites()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// storedTitles lists the stored events: title by id, and which are Ready
// and confirmed by the source.
func storedTitles(t *testing.T, ns string) (titles map[int64]string, ready, inSource int) {
	t.Helper()
	var list eventsv1alpha1.IngresseEventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	titles = map[int64]string{}
	for _, ev := range list.Items {
		titles[ev.Spec.ID] = derefString(ev.Spec.Title)
		if c := meta.FindStatusCondition(ev.Status.Conditions, eventsv1alpha1.ConditionReady); c != nil && c.Status == "True" &&
			c.ObservedGeneration == ev.Generation {
			ready++
		}
		if c := meta.FindStatusCondition(ev.Status.Conditions, eventsv1alpha1.ConditionInSource); c != nil && c.Status == "True" {
			inSource++
		}
	}
	return titles, ready, inSource
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// edit replaces the title and updatedAt of the fake's event id, as an edit
// in Ingresse's Backstage whose webhook never arrives.
func edit(t *testing.T, fake *fakeingresse.Fake, id int64, title string, updatedAt time.Time) {
	t.Helper()
	doc, ok := fake.Get(id)
	if !ok {
		t.Fatalf("the fake has no event %d", id)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	m["title"] = title
	m["updatedAt"] = updatedAt.UTC().Format("2006-01-02T15:04:05.000000+00:00")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	fake.Put(b)
}

// TestResyncBackfillsRepairsAndWritesNothingWhenUnchanged: an install on a
// namespace with no events, against an Ingresse holding 2,500, stores and
// readies every one in its first sweep; a sweep with nothing changed makes
// no write; a sweep after 20 edits whose webhooks were lost makes exactly
// 20 and repairs them; an event whose updatedAt went backwards in the API
// is not regressed.
func TestResyncBackfillsRepairsAndWritesNothingWhenUnchanged(t *testing.T) {
	ns := env.Namespace(t)
	fake := fakeingresse.New()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, doc := range fakeingresse.SeedEvents(2500, fakeCompanyID, fakeProducerID, t0) {
		fake.Put(doc)
	}
	m := withFake(t, ns, fake, 2*time.Second)

	waitSweeps(t, m, 1, 5*time.Minute)
	eventually(t, 5*time.Minute, "2,500 events stored, Ready and confirmed by the source", func() error {
		titles, ready, inSource := storedTitles(t, ns)
		if len(titles) != 2500 || ready != 2500 || inSource != 2500 {
			return fmt.Errorf("%d stored, %d Ready, %d InSource", len(titles), ready, inSource)
		}
		return nil
	})
	if got := metric(t, m, "ingresse_resync_events_total", `outcome="created"`); got != 2500 {
		t.Errorf("sweeps created %v events, want 2500", got)
	}

	// A sweep that starts after this read, and completes, must not write.
	before, sweeps := eventWrites(t), completeSweeps(t, m)
	waitSweeps(t, m, sweeps+2, 3*time.Minute)
	if got := eventWrites(t) - before; got != 0 {
		t.Errorf("a sweep over 2,500 unchanged events made %v IngresseEvent writes, want 0", got)
	}

	// 20 edits whose webhooks were lost, and one event whose updatedAt
	// went backwards in the API.
	for id := int64(1); id <= 20; id++ {
		edit(t, fake, id, fmt.Sprintf("edited %d", id), t0.Add(time.Hour))
	}
	edit(t, fake, 100, "went backwards", t0.Add(-time.Hour))
	before, sweeps = eventWrites(t), completeSweeps(t, m)
	waitSweeps(t, m, sweeps+2, 3*time.Minute)
	if got := eventWrites(t) - before; got != 20 {
		t.Errorf("a sweep after 20 lost webhooks made %v IngresseEvent writes, want 20", got)
	}
	titles, _, _ := storedTitles(t, ns)
	for id := int64(1); id <= 20; id++ {
		if want := fmt.Sprintf("edited %d", id); titles[id] != want {
			t.Errorf("event %d title %q, want %q (repaired)", id, titles[id], want)
		}
	}
	if titles[100] == "went backwards" {
		t.Errorf("event 100 regressed to the API's older version")
	}
	for id := int64(1); id <= 20; id++ {
		eventually(t, time.Minute, "repaired event converged", converged(context.Background(), ns, eventsv1alpha1.ResourceName(id), fmt.Sprintf("edited %d", id)))
	}
}

// TestResyncAndDeliveriesRaceToTheNewest: webhooks and a sweep store the
// same events at the same time; whichever carries the newer updatedAt wins,
// whatever the order.
func TestResyncAndDeliveriesRaceToTheNewest(t *testing.T) {
	ns := env.Namespace(t)
	fake := fakeingresse.New()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	const n = 400
	for _, doc := range fakeingresse.SeedEvents(n, fakeCompanyID, fakeProducerID, t0) {
		fake.Put(doc)
	}
	// The API is newer than the webhooks for the second half.
	for id := int64(n/2 + 1); id <= n; id++ {
		edit(t, fake, id, fmt.Sprintf("api v3 %d", id), t0.Add(3*time.Hour))
	}
	fake.SetPageDelay(150 * time.Millisecond)
	m := withFake(t, ns, fake, time.Second, "--ingresse-api-page-size=25")

	// Deliveries at version 2 for every event, while the first sweep runs.
	var wg sync.WaitGroup
	ids := make(chan int64)
	errs := make(chan error, n)
	for range 8 {
		wg.Go(func() {
			for id := range ids {
				body := webhookWith(t, id, fmt.Sprintf("webhook v2 %d", id), t0.Add(2*time.Hour))
				if code, answer := deliver(t, m.ReceiverURL, resyncToken, body); code/100 != 2 {
					errs <- fmt.Errorf("event %d: HTTP %d %v", id, code, answer)
				}
			}
		})
	}
	for id := int64(1); id <= n; id++ {
		ids <- id
	}
	close(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitSweeps(t, m, 2, 3*time.Minute)

	titles, _, _ := storedTitles(t, ns)
	for id := int64(1); id <= n; id++ {
		want := fmt.Sprintf("webhook v2 %d", id)
		if id > n/2 {
			want = fmt.Sprintf("api v3 %d", id)
		}
		if titles[id] != want {
			t.Errorf("event %d title %q, want %q (the newest)", id, titles[id], want)
		}
	}
}

// webhookWith is an event-update delivery of event id with a title and
// updatedAt, built on Ingresse's example.
func webhookWith(t *testing.T, id int64, title string, updatedAt time.Time) []byte {
	t.Helper()
	var envelope map[string]any
	if err := json.Unmarshal(examples.EventUpdate, &envelope); err != nil {
		t.Fatal(err)
	}
	data := envelope["data"].(map[string]any)
	data["id"], data["title"] = id, title
	data["companyId"], data["producerId"] = fakeCompanyID, fakeProducerID
	data["updatedAt"] = updatedAt.UTC().Format("2006-01-02T15:04:05.000000+00:00")
	b, err := json.Marshal(envelope)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResyncSurvivesAFrozenAPIServerAndA5xxStorm: a sweep whose pages fail
// (5xx beyond the client's retries, 429 with Retry-After, truncated JSON)
// and whose writes stall on a frozen API server resumes where it failed and
// completes, with every event stored.
func TestResyncSurvivesAFrozenAPIServerAndA5xxStorm(t *testing.T) {
	ns := env.Namespace(t)
	fake := fakeingresse.New()
	const n = 600
	for _, doc := range fakeingresse.SeedEvents(n, fakeCompanyID, fakeProducerID, time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)) {
		fake.Put(doc)
	}
	fake.SetPageDelay(100 * time.Millisecond)
	m := withFake(t, ns, fake, time.Hour, "--ingresse-api-page-size=50")

	eventually(t, time.Minute, "the sweep under way", func() error {
		if got := metric(t, m, "ingresse_resync_pages_total"); got < 2 {
			return fmt.Errorf("%v pages", got)
		}
		return nil
	})
	fake.FailNext(12, http.StatusServiceUnavailable, 0) // more than one call's attempts
	thaw, err := env.Freeze(testenv.APIServer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = thaw() })
	time.Sleep(4 * time.Second)
	if err := thaw(); err != nil {
		t.Fatal(err)
	}
	fake.FailNext(1, http.StatusTooManyRequests, time.Second)
	fake.MalformNext(2)

	waitSweeps(t, m, 1, 5*time.Minute)
	titles, _, _ := storedTitles(t, ns)
	if len(titles) != n {
		t.Errorf("%d events stored after the sweep, want %d", len(titles), n)
	}
	if got := metric(t, m, "ingresse_resync_retries_total") + metric(t, m, "ingresse_api_retries_total"); got == 0 {
		t.Errorf("no retry counted: the faults did not happen")
	}
	if got := metric(t, m, "ingresse_resync_sweeps_total", `result="interrupted"`); got != 0 {
		t.Errorf("%v sweeps interrupted, want 0: a failure resumes the sweep", got)
	}
}

// TestVerifiedDeliveries: with --receiver-verify-with-api, what is stored is
// always Ingresse's copy; a forged delivery with a valid token plants
// nothing.
func TestVerifiedDeliveries(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fake := fakeingresse.New()
	fake.Put(testenv.SeedData(t, examples.EventCreate))
	m := withFake(t, ns, fake, 0, "--receiver-verify-with-api", "--ingresse-resync-interval=0")
	name := eventsv1alpha1.ResourceName(21447)
	stored := func() *eventsv1alpha1.IngresseEvent {
		var ev eventsv1alpha1.IngresseEvent
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ev); err != nil {
			t.Fatal(err)
		}
		return &ev
	}

	if code, answer := deliver(t, m.ReceiverURL, resyncToken, examples.EventCreate); code != http.StatusCreated {
		t.Fatalf("a genuine delivery: HTTP %d %v", code, answer)
	}
	ev := stored()
	if ev.Annotations[eventsv1alpha1.AnnotationSource] != eventsv1alpha1.SourceIngresseAPI || ev.Annotations[eventsv1alpha1.AnnotationConfirmedAt] == "" {
		t.Errorf("a verified delivery's annotations %v: want source %s and confirmed-at", ev.Annotations, eventsv1alpha1.SourceIngresseAPI)
	}
	eventually(t, 30*time.Second, "InSource=True", func() error {
		c := meta.FindStatusCondition(stored().Status.Conditions, eventsv1alpha1.ConditionInSource)
		if c == nil || c.Status != "True" {
			return fmt.Errorf("InSource %+v", c)
		}
		return nil
	})
	genuine := derefString(ev.Spec.Title)

	// Forged content at the stored updatedAt: the API's copy is what
	// counts, so nothing changes.
	forged := withUpdate(t, "forged title", "2018-03-06T20:49:04.468974+00:00")
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, forged); code != http.StatusOK {
		t.Errorf("forged content at the API's updatedAt: HTTP %d %v, want 200 (the API's copy, unchanged)", code, answer)
	}
	// Forged content newer than the API's (dated within the clock skew
	// the receiver accepts): refused, retry later.
	forged = withUpdate(t, "forged and newer", time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano))
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, forged); code != http.StatusServiceUnavailable {
		t.Errorf("forged content newer than the API's: HTTP %d %v, want 503", code, answer)
	}
	if got := derefString(stored().Spec.Title); got != genuine {
		t.Fatalf("stored title %q after forged deliveries, want %q", got, genuine)
	}
	// An event the API does not have: refused, nothing stored.
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, webhookWith(t, 999999, "invented", time.Now())); code != http.StatusServiceUnavailable {
		t.Errorf("an event the API does not have: HTTP %d %v, want 503", code, answer)
	}
	var missing eventsv1alpha1.IngresseEvent
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: eventsv1alpha1.ResourceName(999999)}, &missing); err == nil {
		t.Errorf("an event the API does not have was stored")
	}
	// The API is newer than a delivery: its copy is stored.
	edit(t, fake, 21447, "newer in the API", time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC))
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, examples.EventUpdate); code != http.StatusOK || answer["status"] != "updated" {
		t.Errorf("an older delivery with a newer API copy: HTTP %d %v, want 200 updated", code, answer)
	}
	if got := derefString(stored().Spec.Title); got != "newer in the API" {
		t.Errorf("stored title %q, want the API's newer copy", got)
	}
	// The API unreachable: 503, nothing stored.
	fake.FailNext(50, http.StatusInternalServerError, 0)
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, withUpdate(t, "while the API is down", time.Now().UTC().Format(time.RFC3339Nano))); code != http.StatusServiceUnavailable {
		t.Errorf("the API failing: HTTP %d %v, want 503", code, answer)
	}
	if got := metric(t, m, "ingresse_receiver_verifications_total", `result="unavailable"`); got != 1 {
		t.Errorf("verifications unavailable = %v, want 1", got)
	}
}

// TestAlertsNameOnlyExportedMetrics: every metric an alert or a dashboard
// panel of config/prometheus reads is exported by a manager running every feature
// (receiver, controller, resync sweep, verified deliveries, retention).
func TestAlertsNameOnlyExportedMetrics(t *testing.T) {
	ns := env.Namespace(t)
	fake := fakeingresse.New()
	fake.Put(testenv.SeedData(t, examples.EventCreate))
	m := withFake(t, ns, fake, time.Hour, "--receiver-verify-with-api", "--retention-after=8760h")
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, examples.EventCreate); code != http.StatusCreated {
		t.Fatalf("a delivery: HTTP %d %v", code, answer)
	}
	waitSweeps(t, m, 1, time.Minute)
	eventually(t, 30*time.Second, "converged", converged(context.Background(), ns, eventsv1alpha1.ResourceName(21447), "Webhook Example"))

	samples, err := testenv.Metrics(m.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for series := range samples {
		name, _, _ := strings.Cut(series, "{")
		exported[name] = true
	}
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "prometheus_rule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert, Expr string
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &rule); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{} // what reads it -> expression
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	b, err = os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "dashboard", "ingresse-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dashboard); err != nil {
		t.Fatal(err)
	}
	for _, p := range dashboard.Panels {
		for i, target := range p.Targets {
			exprs[fmt.Sprintf("dashboard panel %q query %d", p.Title, i)] = target.Expr
		}
	}
	checked := 0
	for who, expr := range exprs {
		names, err := testenv.PromQLMetricNames(expr)
		if err != nil {
			t.Errorf("%s: %v", who, err)
		}
		for _, name := range names {
			checked++
			if !exported[name] {
				t.Errorf("%s reads %s, which the manager does not export", who, name)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no metric name found in the alerts")
	}
}

// TestResyncThroughWhatWouldStopIt: the sweep of the manager binary, on the
// real API server, against a fake Ingresse API that counts like
// Elasticsearch past its tracking limit ({"value": 250, "relation":
// "gte"} for 600 events, pages of 250): every event is stored and stays
// InSource, none marked absent. A stored version dated in 9999 is repaired
// and counted. An event held in deletion by a finalizer is skipped (by
// reason), every later one still stored, and tried again by each sweep
// until it is gone; creates a ResourceQuota refuses are skipped the same
// way and stored once the quota goes.
func TestResyncThroughWhatWouldStopIt(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fake := fakeingresse.New()
	fake.SetTotalCap(250)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, doc := range fakeingresse.SeedEvents(600, fakeCompanyID, fakeProducerID, t0) {
		fake.Put(doc)
	}
	// Stored before the manager starts: event 7 dated in 9999, as a
	// forged delivery would have left it before the clock check, and
	// event 5 held in deletion by a finalizer.
	future := &eventsv1alpha1.IngresseEvent{}
	future.Name, future.Namespace = eventsv1alpha1.ResourceName(7), ns
	future.Labels = map[string]string{eventsv1alpha1.LabelCompanyID: strconv.Itoa(fakeCompanyID)}
	if err := json.Unmarshal(fakeingresse.SeedEvent(7, fakeCompanyID, fakeProducerID, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), &future.Spec); err != nil {
		t.Fatal(err)
	}
	future.Spec.Title = new("frozen in 9999")
	if err := env.Client.Create(ctx, future); err != nil {
		t.Fatal(err)
	}
	held := &eventsv1alpha1.IngresseEvent{}
	held.Name, held.Namespace, held.Finalizers = eventsv1alpha1.ResourceName(5), ns, []string{"test.ingresse.com/hold"}
	held.Spec.ID = 5
	if err := env.Client.Create(ctx, held); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, held); err != nil {
		t.Fatal(err)
	}

	m := withFake(t, ns, fake, 2*time.Second)
	waitSweeps(t, m, 2, 5*time.Minute)
	eventually(t, 5*time.Minute, "599 events stored and InSource, none absent", func() error {
		titles, _, inSource := storedTitles(t, ns)
		if len(titles) != 600 || inSource < 599 {
			return fmt.Errorf("%d stored (the held one included), %d InSource", len(titles), inSource)
		}
		return nil
	})
	if got := metric(t, m, "ingresse_resync_events_absent"); got != 0 {
		t.Errorf("%v events marked absent after sweeps of a listing whose total is a lower bound, want 0", got)
	}
	if got := metric(t, m, "ingresse_resync_events_total", `outcome="repaired"`); got != 1 {
		t.Errorf("repaired = %v, want 1 (event 7, dated in 9999)", got)
	}
	if titles, _, _ := storedTitles(t, ns); titles[7] == "frozen in 9999" {
		t.Errorf("event 7 still holds the version dated in 9999")
	}
	skippedHeld := metric(t, m, "ingresse_resync_skipped_total", `reason="being_deleted"`)
	if skippedHeld < 2 {
		t.Errorf("the event held in deletion was skipped %v times in 2 sweeps, want once each", skippedHeld)
	}

	// Released, it goes; the next sweep creates it.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(held), held); err != nil {
		t.Fatal(err)
	}
	held.Finalizers = nil
	if err := env.Client.Update(ctx, held); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "event 5 created anew by a sweep", func() error {
		titles, _, inSource := storedTitles(t, ns)
		if titles[5] == "" || inSource != 600 {
			return fmt.Errorf("event 5 title %q, %d InSource", titles[5], inSource)
		}
		return nil
	})

	// A quota that refuses every new IngresseEvent: the sweep skips the
	// new ones, counted as quota, and stores them once it goes.
	quota := quotaExceeded(t, ns)
	for _, doc := range fakeingresse.SeedEvents(603, fakeCompanyID, fakeProducerID, t0)[600:] {
		fake.Put(doc)
	}
	eventually(t, 3*time.Minute, "3 new events skipped for the quota", func() error {
		if got := metric(t, m, "ingresse_resync_skipped_total", `reason="quota"`); got < 3 {
			return fmt.Errorf("%v skipped for quota", got)
		}
		return nil
	})
	if err := env.Client.Delete(ctx, quota); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "603 events stored once the quota is gone", func() error {
		if titles, _, _ := storedTitles(t, ns); len(titles) != 603 {
			return fmt.Errorf("%d stored", len(titles))
		}
		return nil
	})
}

// quotaExceeded creates a ResourceQuota on IngresseEvents in ns whose
// status says it is used up, as the quota controller would: the API
// server's quota admission refuses every create with "exceeded quota".
func quotaExceeded(t *testing.T, ns string) *corev1.ResourceQuota {
	t.Helper()
	ctx := context.Background()
	res := corev1.ResourceName("count/ingresseevents.events.ingresse.com")
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "no-more-events", Namespace: ns},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{res: resource.MustParse("1")}}}
	if err := env.Client.Create(ctx, q); err != nil {
		t.Fatal(err)
	}
	q.Status = corev1.ResourceQuotaStatus{Hard: q.Spec.Hard, Used: corev1.ResourceList{res: resource.MustParse("1")}}
	if err := env.Client.Status().Update(ctx, q); err != nil {
		t.Fatal(err)
	}
	return q
}
