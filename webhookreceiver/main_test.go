package webhookreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
	"github.com/ingresse-operator/ingresse-operator/internal/eventclient"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// lazyControlPlane is the real kube-apiserver and etcd, started by the
// first test that needs one (see controlPlane): the HTTP-only tests run
// against a fake store (newHTTPReplica) and start none.
var lazyControlPlane testenv.Lazy

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	testenv.RunLazy(m, &lazyControlPlane)
}

// controlPlane is the real API server, started on first use; a fuzzing
// binary skips the test instead.
func controlPlane(t testing.TB) *testenv.Env {
	t.Helper()
	return lazyControlPlane.Get(t)
}

// testToken is the token every replica accepts unless a test says
// otherwise. Tests search logs, metrics and answers for it.
const testToken = "tok-3f9c2a7d41b8e6a0c5"

// replicaConfig tunes a test replica.
type replicaConfig struct {
	// opts edits the options after the test defaults.
	opts func(*Options)
	// client intercepts the manager's client, which writes.
	client *interceptor.Funcs
	// reader intercepts the API reader, which reads.
	reader *interceptor.Funcs
	// requests, when set, records every request sent to the API server.
	requests *requestLog
	// noStart leaves Start to the test.
	noStart bool
}

// httpNamespace is where an HTTP-only replica's fake store keeps events.
const httpNamespace = "webhooks"

// replica is one receiver. newReplica wires it as cmd does: a
// controller-runtime manager's client, API reader and event recorder,
// against the real API server, writing in its own namespace.
// newHTTPReplica gives it a fake store instead, for the tests of HTTP
// behaviour that never reaches the API server.
type replica struct {
	srv *Server
	ns  string
	// store reads what the replica stored: the real API server (not a
	// cache) or the fake store.
	store client.Client
	reg   *prometheus.Registry
	logs  *logBuffer
	// tokenFile is the file the replica reads its tokens from.
	tokenFile string

	stopOnce sync.Once
	cancel   context.CancelFunc
	stopped  chan error
}

// newReplica starts a manager and a receiver writing to ns on the real API
// server.
func newReplica(t testing.TB, ns string, cfg replicaConfig) *replica {
	t.Helper()
	env := controlPlane(t)
	restConfig := rest.CopyConfig(env.Config)
	if cfg.requests != nil {
		restConfig.Wrap(cfg.requests.RoundTrip)
	}
	mgr, err := manager.New(restConfig, manager.Options{
		Scheme:  testenv.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// As cmd/main.go configures it.
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{ns: {}},
			ByObject:          map[client.Object]cache.ByObject{&eventsv1alpha1.IngresseEvent{}: {Transform: eventcache.Transform}},
		},
		NewClient: func(config *rest.Config, options client.Options) (client.Client, error) {
			c, err := eventclient.New(config, options) // as cmd/main.go's NewClient
			if err != nil || cfg.client == nil {
				return c, err
			}
			return interceptor.NewClient(c, *cfg.client), nil
		},
	})
	if err != nil {
		t.Fatalf("creating a manager: %v", err)
	}
	apiReader := mgr.GetAPIReader()
	if cfg.reader != nil {
		direct, err := client.NewWithWatch(restConfig, client.Options{Scheme: testenv.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		apiReader = interceptor.NewClient(direct, *cfg.reader)
	}
	r := buildReplica(t, ns, env.Client, cfg, mgr.GetClient(), apiReader, mgr.GetEventRecorder(eventstore.FieldOwner))

	mgrCtx, stopMgr := context.WithCancel(context.Background())
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stopMgr()
		if err := <-mgrDone; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(mgrCtx) {
		t.Fatal("the manager's cache did not sync")
	}
	if !cfg.noStart {
		r.start(t)
	}
	return r
}

// newHTTPReplica starts a receiver whose store is controller-runtime's fake
// client: for routing, methods, content types, body limits,
// authentication, source addresses, bounds and shutdown, which are the
// receiver's own and never depend on what the API server does. It starts
// no control plane. cfg.client and cfg.reader intercept the fake.
func newHTTPReplica(t testing.TB, cfg replicaConfig) *replica {
	t.Helper()
	if cfg.requests != nil {
		t.Fatal("an HTTP-only replica sends no requests to an API server")
	}
	store := fake.NewClientBuilder().WithScheme(testenv.Scheme).WithStatusSubresource(&eventsv1alpha1.IngresseEvent{}).Build()
	var writer client.Client = store
	if cfg.client != nil {
		writer = interceptor.NewClient(store, *cfg.client)
	}
	var reader client.Reader = store
	if cfg.reader != nil {
		reader = interceptor.NewClient(store, *cfg.reader)
	}
	r := buildReplica(t, httpNamespace, store, cfg, writer, reader, nil)
	if !cfg.noStart {
		r.start(t)
	}
	return r
}

// buildReplica makes the receiver with the test defaults and cfg.opts.
func buildReplica(t testing.TB, ns string, store client.Client, cfg replicaConfig, c client.Client, apiReader client.Reader, rec recorder.EventRecorder) *replica {
	t.Helper()
	dir := t.TempDir()
	r := &replica{ns: ns, store: store, reg: prometheus.NewRegistry(), logs: &logBuffer{}, tokenFile: filepath.Join(dir, "tokens")}
	writeFile(t, r.tokenFile, "# the receiver's tokens\n"+testToken+"\n")

	opts := Options{Namespace: ns, TokenFile: r.tokenFile}
	opts.Default()
	opts.BindAddress = "127.0.0.1:0"
	opts.ShutdownDelay = 0
	opts.ShutdownTimeout = 10 * time.Second
	opts.TokenReloadInterval = 20 * time.Millisecond
	if cfg.opts != nil {
		cfg.opts(&opts)
	}
	log := funcr.New(r.logs.write, funcr.Options{Verbosity: 1})
	var err error
	r.srv, err = New(opts, c, apiReader, rec, r.reg, log)
	if err != nil {
		t.Fatalf("creating the receiver: %v", err)
	}
	return r
}

// start runs Start and waits until the receiver is ready.
func (r *replica) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.stopped = cancel, make(chan error, 1)
	go func() { r.stopped <- r.srv.Start(ctx) }()
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("stopping the receiver: %v", err)
		}
	})
	eventually(t, "the receiver is ready", func() bool { return r.srv.ReadyzCheck(nil) == nil })
}

// stop cancels Start and returns what it returned.
func (r *replica) stop() error {
	var err error
	r.stopOnce.Do(func() {
		r.cancel()
		err = <-r.stopped
	})
	return err
}

// post delivers body through the handler with the test token as a bearer
// token; edit changes the request first.
func (r *replica) post(t testing.TB, body []byte, edit ...func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, webhookPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	for _, e := range edit {
		e(req)
	}
	rec := httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// get reads an IngresseEvent from the replica's store (the API server,
// not a cache); nil when it does not exist.
func (r *replica) get(t testing.TB, name string) *eventsv1alpha1.IngresseEvent {
	t.Helper()
	obj := &eventsv1alpha1.IngresseEvent{}
	err := r.store.Get(context.Background(), client.ObjectKey{Namespace: r.ns, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("reading %s/%s: %v", r.ns, name, err)
	}
	return obj
}

// count is how many IngresseEvents the namespace holds.
func (r *replica) count(t testing.TB) int {
	t.Helper()
	list := &eventsv1alpha1.IngresseEventList{}
	if err := r.store.List(context.Background(), list, client.InNamespace(r.ns)); err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

// answer decodes an answer, checking its content type.
func answerOf(t testing.TB, rec *httptest.ResponseRecorder) answerBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q, want application/json (body %s)", ct, rec.Body)
	}
	var a answerBody
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("answer %q is not the answer JSON: %v", rec.Body, err)
	}
	return a
}

// expect checks an answer's status code and status (or error substring).
func expect(t testing.TB, rec *httptest.ResponseRecorder, code int, statusOrError string) answerBody {
	t.Helper()
	a := answerOf(t, rec)
	if rec.Code != code {
		t.Fatalf("answer %d %s, want %d %q", rec.Code, rec.Body, code, statusOrError)
	}
	got := a.Status
	if code >= 300 {
		got = a.Error
		if a.Status != "" {
			t.Fatalf("failure answer %s has a status", rec.Body)
		}
	}
	if !strings.Contains(got, statusOrError) || (code < 300 && got != statusOrError) {
		t.Fatalf("answer %d %s, want %q", rec.Code, rec.Body, statusOrError)
	}
	return a
}

// eventually polls cond for up to 20 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects log lines.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) write(prefix, args string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, prefix+" "+args)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// payload is a webhook body built from a seed example.
type payload map[string]any

// seed decodes an example, keeping numbers as written.
func seed(t testing.TB, body []byte) payload {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var p payload
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// data is the payload's data member.
func (p payload) data() map[string]any { return p["data"].(map[string]any) }

// with returns a deep copy of p edited by edit.
func (p payload) with(t testing.TB, edit func(p payload)) payload {
	t.Helper()
	cp := seed(t, p.bytes(t))
	edit(cp)
	return cp
}

func (p payload) bytes(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metricValue sums the samples of a counter or gauge whose labels include
// labels.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue samples
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// readWatchCache reads an IngresseEvent from the API server's watch cache
// (resourceVersion 0), as the receiver's first read of a delivery does.
func readWatchCache(ctx context.Context, t testing.TB, key client.ObjectKey) (*eventsv1alpha1.IngresseEvent, error) {
	obj := &eventsv1alpha1.IngresseEvent{}
	return obj, controlPlane(t).Client.Get(ctx, key, obj, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "0"}})
}

func strOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
