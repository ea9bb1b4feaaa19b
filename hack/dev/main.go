// Command dev shows ingresse-operator working, and prints what to post
// and what to look at.
//
// `make dev` runs it as it is: it starts the hermetic test control plane
// (kube-apiserver and etcd built from source) with a garbage collector
// (kube-controller-manager), installs the CRD, starts bin/manager
// (controller and receiver) with a freshly generated token. Ctrl-C stops
// everything.
//
// `make deploy-local` runs it with --cluster, after `make cluster-up`: it
// builds the operator's image, loads it into the cluster on this machine,
// applies dist/install.yaml with it (or, with --install=helm, which `make
// deploy-local INSTALL=helm` passes, installs the Helm chart in dist/chart
// with it), creates the receiver's token Secret (or keeps the one there),
// waits for both Deployments and exits; the operator keeps running in the
// cluster until `make cluster-down`.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ingresse-operator/ingresse-operator/internal/fakeingresse"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run() error {
	root := testenv.RepoRoot()
	manager := flag.String("manager", filepath.Join(root, "bin", "manager"), "manager binary to run")
	stateDir := flag.String("dir", filepath.Join(root, ".dev"), "where the kubeconfig, token file and log go (removed on exit)")
	receiverAddr := flag.String("receiver-addr", "127.0.0.1:8082", "the receiver's address")
	namespace := flag.String("namespace", "default", "namespace the manager uses")
	inCluster := flag.Bool("cluster", false, "deploy to the cluster of `make cluster-up` instead (make deploy-local)")
	install := flag.String("install", installKustomize, "with --cluster, how to install: kustomize (dist/install.yaml) or helm (dist/chart)")
	fakeEvents := flag.Int("fake-ingresse-events", 0, "start a fake Ingresse API holding this many events and sweep it (make dev-resync)")
	fakeAddr := flag.String("fake-ingresse-addr", "127.0.0.1:8090", "the fake Ingresse API's address")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *inCluster {
		return deployToCluster(ctx, root, *install)
	}

	if _, err := os.Stat(*manager); err != nil {
		return fmt.Errorf("%s is missing: run `make dev` (it builds it): %w", *manager, err)
	}
	if err := os.MkdirAll(*stateDir, 0o700); err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(*stateDir) }()

	fmt.Println("Starting a local control plane (kube-apiserver + etcd; the first run builds them, about 5 minutes)...")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "dev: stopping the control plane:", err)
		}
	}()
	gc, err := env.StartGarbageCollector()
	if err != nil {
		return err
	}
	defer gc.Stop()

	token, err := newToken()
	if err != nil {
		return err
	}
	args := []string{"--receiver-shutdown-delay=0s"}
	var facts [][2]string
	if *fakeEvents > 0 {
		fake, err := startFakeIngresse(ctx, *fakeAddr, *fakeEvents, *stateDir)
		if err != nil {
			return err
		}
		args = append(args, fake.args...)
		facts = append(facts, [2]string{"Ingresse:", fmt.Sprintf("a fake API at %s holding %d events of company %d; the controller sweeps it at start and every minute", fake.url, *fakeEvents, fakeCompanyID)})
	}
	m, err := env.StartManager(testenv.ManagerOptions{
		Namespace:    *namespace,
		Tokens:       []string{token},
		Dir:          *stateDir,
		Binary:       *manager,
		ReceiverAddr: *receiverAddr,
		Args:         args,
	})
	if err != nil {
		return err
	}
	defer m.Stop(30 * time.Second)
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := m.WaitReady(readyCtx); err != nil {
		return err
	}

	assets, _ := testenv.AssetsDir()
	instructions{
		intro:       "ingresse-operator is running (controller + webhook receiver) against a local control plane.",
		receiverURL: m.ReceiverURL,
		token:       token,
		facts:       append(facts, [2]string{"Metrics:", m.MetricsURL}, [2]string{"Manager log:", m.LogPath}),
		manager:     *manager,
		kubectl:     fmt.Sprintf("%s --kubeconfig %s", filepath.Join(assets, "kubectl"), filepath.Join(*stateDir, "kubeconfig")),
		namespace:   *namespace,
		stop:        "Press Ctrl-C to stop everything.",
	}.print(os.Stdout)

	select {
	case <-ctx.Done():
		fmt.Println("\nStopping the manager and the control plane...")
		return nil
	case <-m.Exited():
		return fmt.Errorf("the manager exited; log: %s", m.LogPath)
	}
}

// instructions is what dev prints once the operator runs: where to post,
// with which token, and the kubectl lines that show the result.
type instructions struct {
	intro       string
	receiverURL string
	token       string
	facts       [][2]string // more "Label: value" lines after the token
	manager     string      // bin/manager, for `manager send`
	kubectl     string      // the kubectl command line to show
	namespace   string
	stop        string
}

func (in instructions) print(w io.Writer) {
	example := filepath.Join(testenv.RepoRoot(), "webhookreceiver", "examples", "event-create.json")
	fmt.Fprintf(w, "\n%s\n\n  %-12s POST %s\n  %-12s %s\n", in.intro, "Receiver:", in.receiverURL, "Token:", in.token)
	for _, f := range in.facts {
		fmt.Fprintf(w, "  %-12s %s\n", f[0], f[1])
	}
	fmt.Fprintf(w, `
Post Ingresse's event-create example:

  curl -sS -X POST '%[1]s?token=%[2]s' -H 'Content-Type: application/json' --data @%[3]s

or with the bundled sender (it knows both examples):

  %[4]s send --url %[1]s --token %[2]s --example event-create

Then look at what the operator made of it:

  %[5]s get ingresseevents -n %[6]s
  %[5]s wait --for=condition=Ready ingresseevent/event-21447 -n %[6]s
  %[5]s get configmap event-21447 -n %[6]s -o yaml

%[7]s
`, in.receiverURL, in.token, example, in.manager, in.kubectl, in.namespace, in.stop)
}

// fakeCompanyID is the company of the fake Ingresse API's events.
const fakeCompanyID = 1

// fakeIngresse is a running fake Ingresse API and the manager flags that
// point at it.
type fakeIngresse struct {
	url  string
	args []string
}

// startFakeIngresse serves a fake Ingresse API holding n events on addr
// until ctx ends, and writes its credentials file into dir.
func startFakeIngresse(ctx context.Context, addr string, n int, dir string) (*fakeIngresse, error) {
	fake := fakeingresse.New()
	for _, doc := range fakeingresse.SeedEvents(n, fakeCompanyID, 297229, time.Now().Add(-time.Hour)) {
		fake.Put(doc)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("the fake Ingresse API cannot listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: fake.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	credentials := filepath.Join(dir, "ingresse-api")
	if err := os.WriteFile(credentials, []byte(fake.Credentials()), 0o600); err != nil {
		return nil, err
	}
	url := "http://" + ln.Addr().String()
	return &fakeIngresse{url: url, args: []string{
		"--ingresse-api-credentials-file=" + credentials,
		"--ingresse-api-url=" + url + "/api",
		"--ingresse-event-url=" + url + "/event",
		"--ingresse-event-search-url=" + url + "/event-search",
		fmt.Sprintf("--ingresse-company-id=%d", fakeCompanyID),
		"--ingresse-resync-interval=1m",
	}}, nil
}

// newToken returns 32 random bytes, hex-encoded.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
