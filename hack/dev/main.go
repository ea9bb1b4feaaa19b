// Command dev runs ingresse-operator locally with no cluster: it starts the
// hermetic test control plane (kube-apiserver and etcd built from source),
// installs the CRD, starts bin/manager (controller and receiver) with a
// freshly generated token, and prints what to do next. Ctrl-C stops
// everything. `make dev` builds the manager and runs this.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
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
	stateDir := flag.String("dir", filepath.Join(root, ".dev"), "where the kubeconfig, token file and logs go (removed on exit)")
	receiverPort := flag.Int("receiver-port", 8082, "receiver port on 127.0.0.1 (0 picks a free one)")
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
	defer os.RemoveAll(*stateDir)

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

	kubeconfig := filepath.Join(*stateDir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		return err
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(*stateDir, "tokens")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	if *receiverPort != 0 {
		ports[0] = *receiverPort
	}
	receiverAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	metricsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	probeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2]))

	logPath := filepath.Join(*stateDir, "manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(*manager,
		"--kubeconfig", kubeconfig,
		"--namespace", *namespace,
		"--receiver-bind-address", receiverAddr,
		"--receiver-token-file", tokenFile,
		"--metrics-bind-address", metricsAddr,
		"--health-probe-bind-address", probeAddr,
		"--receiver-shutdown-delay", "0s",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", *manager, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
	}()

	if err := waitReady(ctx, "http://"+probeAddr+"/readyz", exited); err != nil {
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}

	assets, _ := testenv.AssetsDir()
	kubectl := fmt.Sprintf("%s --kubeconfig %s", filepath.Join(assets, "kubectl"), kubeconfig)
	url := "http://" + receiverAddr + "/webhooks/ingresse"
	example := filepath.Join(root, "webhookreceiver", "examples", "event-create.json")
	fmt.Printf(`
ingresse-operator is running (controller + webhook receiver) against a local control plane.

  Receiver:   POST %[1]s
  Token:      %[2]s
  Metrics:    http://%[3]s/metrics
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
`, url, token, metricsAddr, logPath, example, *manager, kubectl, *namespace)

	select {
	case <-ctx.Done():
		fmt.Println("\nStopping the manager and the control plane...")
		return nil
	case err := <-exited:
		return fmt.Errorf("the manager exited: %v (log: %s)", err, logPath)
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

// freePorts asks the kernel for n free ports on loopback.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady polls the manager's readiness endpoint until it answers 200.
func waitReady(ctx context.Context, url string, exited <-chan error) error {
	deadline := time.After(2 * time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			return fmt.Errorf("the manager exited before it was ready: %v", err)
		case <-deadline:
			return errors.New("the manager was not ready within 2 minutes")
		case <-time.After(200 * time.Millisecond):
		}
	}
}
