// Command dev runs ingresse-operator locally with no cluster: it starts the
// hermetic test control plane (kube-apiserver and etcd built from source)
// with a garbage collector (kube-controller-manager), installs the CRD,
// starts bin/manager (controller and receiver) with a freshly generated
// token, and prints what to do next. Ctrl-C stops everything. `make dev`
// builds the manager and runs this.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ingresse-operator/ingresse-operator/hack/testenv"
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
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

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
	m, err := env.StartManager(testenv.ManagerOptions{
		Namespace:    *namespace,
		Tokens:       []string{token},
		Dir:          *stateDir,
		Binary:       *manager,
		ReceiverAddr: *receiverAddr,
		Args:         []string{"--receiver-shutdown-delay=0s"},
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
	kubectl := fmt.Sprintf("%s --kubeconfig %s", filepath.Join(assets, "kubectl"), filepath.Join(*stateDir, "kubeconfig"))
	example := filepath.Join(root, "webhookreceiver", "examples", "event-create.json")
	fmt.Printf(`
ingresse-operator is running (controller + webhook receiver) against a local control plane.

  Receiver:    POST %[1]s
  Token:       %[2]s
  Metrics:     %[3]s
  Manager log: %[4]s

Post Ingresse's event-create example:

  curl -sS -X POST '%[1]s?token=%[2]s' -H 'Content-Type: application/json' --data @%[5]s

or with the bundled sender (it knows both examples):

  %[6]s send --url %[1]s --token %[2]s --example event-create

Then look at what the operator made of it:

  %[7]s get ingresseevents -n %[8]s
  %[7]s wait --for=condition=Ready ingresseevent/event-21447 -n %[8]s
  %[7]s get configmap event-21447 -n %[8]s -o yaml

Press Ctrl-C to stop everything.
`, m.ReceiverURL, token, m.MetricsURL, m.LogPath, example, *manager, kubectl, *namespace)

	select {
	case <-ctx.Done():
		fmt.Println("\nStopping the manager and the control plane...")
		return nil
	case <-m.Exited():
		return fmt.Errorf("the manager exited; log: %s", m.LogPath)
	}
}

// newToken returns 32 random bytes, hex-encoded.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
