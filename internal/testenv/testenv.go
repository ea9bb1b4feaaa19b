// Package testenv starts the test control plane: a real kube-apiserver and
// etcd (controller-runtime's envtest) built from source by
// hack/envtest-binaries.sh, with the IngresseEvent CRD installed. Every
// suite that claims the operator works against Kubernetes uses it, and so
// do `make dev` and the benchmark.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// Scheme knows the built-in types and the IngresseEvent API.
var Scheme = k8sruntime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(eventsv1alpha1.AddToScheme(Scheme))
}

// RepoRoot is the root of this repository.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	assetsOnce sync.Once
	assetsDir  string
	assetsErr  error
)

// AssetsDir returns the directory holding kube-apiserver, etcd,
// kube-controller-manager and kubectl: KUBEBUILDER_ASSETS when set (as
// `make test` does), else whatever hack/envtest-binaries.sh builds or finds
// in its cache.
func AssetsDir() (string, error) {
	assetsOnce.Do(func() {
		if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
			assetsDir = dir
			return
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(filepath.Join(RepoRoot(), "hack", "envtest-binaries.sh"))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			assetsErr = fmt.Errorf("building the test control plane: %w\n%s", err, stderr.String())
			return
		}
		assetsDir = strings.TrimSpace(stdout.String())
	})
	return assetsDir, assetsErr
}

// Env is a running test control plane with the CRDs installed.
type Env struct {
	Environment *envtest.Environment
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is an uncached client with Scheme.
	Client client.Client
}

// Start starts etcd and kube-apiserver and installs the CRDs from
// config/crd/bases.
func Start() (*Env, error) {
	dir, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	environment := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		CRDDirectoryPaths:        []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		Scheme:                   Scheme,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	// The freshly built kubectl lets envtest (and tests) run kubectl too.
	environment.ControlPlane.KubectlPath = filepath.Join(dir, "kubectl")
	cfg, err := environment.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the test control plane from %s: %w", dir, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme})
	if err != nil {
		_ = environment.Stop()
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	return &Env{Environment: environment, Config: cfg, Client: c}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error {
	return e.Environment.Stop()
}

// Run is a TestMain body: it starts the control plane, runs the tests,
// prints the reliability summary if a test reported to it, stops the
// control plane and exits. env receives the running Env before the tests start.
// Fuzzing (go test -fuzz, and its workers, which run TestMain too) gets no
// control plane: fuzz targets do not need one, and one per worker would
// only slow fuzzing down.
func Run(m *testing.M, env **Env) {
	flag.Parse()
	if fuzzing() {
		os.Exit(m.Run())
	}
	e, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	printReport()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test control plane:", err)
	}
	os.Exit(code)
}

// Lazy is a control plane started by the first test that asks for one,
// for a package whose HTTP-only tests run against a fake store: `go test
// -run` of those alone starts no kube-apiserver and takes milliseconds,
// while the tests that claim the operator works against Kubernetes still
// get the real one. Its zero value is ready to use; RunLazy stops it.
type Lazy struct {
	once sync.Once
	env  *Env
	err  error
}

// Get returns the running control plane, starting it on the first call. A
// fuzzing binary gets none, and the test is skipped, as Run does.
func (l *Lazy) Get(t testing.TB) *Env {
	t.Helper()
	if fuzzing() {
		t.Skip("the test control plane is not started while fuzzing")
	}
	l.once.Do(func() { l.env, l.err = Start() })
	if l.err != nil {
		t.Fatal(l.err)
	}
	return l.env
}

// RunLazy is a TestMain body for a package with a Lazy control plane: it
// runs the tests, prints the reliability summary, stops the control plane
// if a test started it and exits.
func RunLazy(m *testing.M, l *Lazy) {
	flag.Parse()
	code := m.Run()
	printReport()
	if l.env != nil {
		if err := l.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the test control plane:", err)
		}
	}
	os.Exit(code)
}

// fuzzing reports whether this test binary is fuzzing or is a fuzz worker.
func fuzzing() bool {
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return true
	}
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

// SeedData returns the data member of a webhook delivery such as one of
// webhookreceiver/examples: the Ingresse event exactly as sent.
func SeedData(t testing.TB, body []byte) []byte {
	t.Helper()
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		t.Fatalf("decoding a delivery: %v", err)
	}
	return envelope.Data
}

// Namespace creates a namespace with a generated name for one test and
// deletes it when the test ends. Namespaces are never fully deleted
// without kube-controller-manager, so each test gets its own.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return ns.Name
}

// IngresseEventWrites is how many writes of IngresseEvents (not their
// status) the API server has accepted since it started, from its own
// apiserver_request_total: every namespace, so a test that counts them
// must not run in parallel with tests that write IngresseEvents.
func (e *Env) IngresseEventWrites() (float64, error) {
	return e.Writes("ingresseevents", "")
}

// OperatorWrites is every write the operator makes, as
// IngresseEventWrites counts them: IngresseEvents, their status and
// ConfigMaps.
func (e *Env) OperatorWrites() (float64, error) {
	var total float64
	for _, w := range [][2]string{{"ingresseevents", ""}, {"ingresseevents", "status"}, {"configmaps", ""}} {
		n, err := e.Writes(w[0], w[1])
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// Writes is how many successful writes (POST, PUT, PATCH, APPLY, DELETE) of
// resource (and subresource, "" for the object itself) the API server has
// accepted since it started, in every namespace, from its own
// apiserver_request_total.
func (e *Env) Writes(resource, subresource string) (float64, error) {
	c, err := rest.HTTPClientFor(e.Config)
	if err != nil {
		return 0, err
	}
	c.Timeout = 10 * time.Second
	samples, err := MetricsWith(c, strings.TrimSuffix(e.Config.Host, "/")+"/metrics")
	if err != nil {
		return 0, err
	}
	writeVerbs := map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true}
	total := 0.0
	for series, v := range samples {
		if strings.HasPrefix(series, "apiserver_request_total{") && label(series, "resource") == resource &&
			label(series, "subresource") == subresource && writeVerbs[label(series, "verb")] && strings.HasPrefix(label(series, "code"), "2") {
			total += v
		}
	}
	return total, nil
}

// label is the value of a label in a series as Metrics prints it
// (name{a="x",b="y"}), "" when it has none.
func label(series, name string) string {
	_, rest, ok := strings.Cut(series, "{"+name+`="`)
	if !ok {
		_, rest, ok = strings.Cut(series, ","+name+`="`)
	}
	if !ok {
		return ""
	}
	value, _, _ := strings.Cut(rest, `"`)
	return value
}
