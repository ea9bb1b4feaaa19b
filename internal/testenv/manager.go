package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

var (
	buildOnce    sync.Once
	builtManager string
	buildErr     error
)

// BuildManager builds the manager binary (./cmd) once per process, the way
// `make build` does, into a temporary directory, and returns its path.
func BuildManager() (string, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ingresse-manager-")
		if err != nil {
			buildErr = err
			return
		}
		builtManager = filepath.Join(dir, "manager")
		var stderr bytes.Buffer
		cmd := exec.Command("go", "build", "-trimpath", "-o", builtManager, "./cmd")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd: %w\n%s", err, stderr.String())
		}
	})
	return builtManager, buildErr
}

// ManagerOptions configure one manager process.
type ManagerOptions struct {
	// Namespace is the manager's --namespace.
	Namespace string
	// TokenFile is the receiver's token file; StartManager writes Tokens
	// into a new one when it is empty.
	TokenFile string
	// Tokens are written to a new token file when TokenFile is empty.
	Tokens []string
	// Args are extra flags, appended last so they win.
	Args []string
	// Env are extra environment variables (KEY=value) for the process, on
	// top of the test's own.
	Env []string
	// Dir holds the kubeconfig, token file and log; a new temporary
	// directory when empty.
	Dir string
	// Binary is the manager binary; BuildManager's when empty.
	Binary string
	// ReceiverAddr is the receiver's host:port; a free loopback port when
	// empty.
	ReceiverAddr string
	// ServiceAccount ("namespace/name"), when set, is who the manager acts
	// as: its kubeconfig impersonates that ServiceAccount (with its groups,
	// as the API server adds them), so that the RBAC and the API Priority
	// and Fairness rules that name it apply to every request, as in a pod
	// of the install. Empty: the test's admin, which both pass.
	ServiceAccount string
}

// Manager is a running manager process.
type Manager struct {
	// ReceiverURL is the receiver's webhook URL.
	ReceiverURL string
	// MetricsURL is the /metrics URL.
	MetricsURL string
	// ProbeURL is the probe server's base URL (/healthz, /readyz).
	ProbeURL string
	// TokenFile is the receiver's token file.
	TokenFile string
	// LogPath is where the process writes its log.
	LogPath string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// StartManager starts bin/manager (BuildManager) against the Env's API
// server on free loopback ports and returns once the process runs; call
// WaitReady to wait for its readiness probe.
func (e *Env) StartManager(opts ManagerOptions) (*Manager, error) {
	bin, err := opts.Binary, error(nil)
	if bin == "" {
		if bin, err = BuildManager(); err != nil {
			return nil, err
		}
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "manager-"); err != nil {
			return nil, err
		}
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	raw, err := impersonating(e.Environment.KubeConfig, opts.ServiceAccount)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kubeconfig, raw, 0o600); err != nil {
		return nil, err
	}
	tokenFile := opts.TokenFile
	if tokenFile == "" {
		tokenFile = filepath.Join(dir, "tokens")
		var b bytes.Buffer
		for _, t := range opts.Tokens {
			b.WriteString(t + "\n")
		}
		if err := os.WriteFile(tokenFile, b.Bytes(), 0o600); err != nil {
			return nil, err
		}
	}
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	addr := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	receiverAddr := opts.ReceiverAddr
	if receiverAddr == "" {
		receiverAddr = addr(ports[0])
	}
	m := &Manager{
		ReceiverURL: "http://" + receiverAddr + "/webhooks/ingresse",
		MetricsURL:  "http://" + addr(ports[1]) + "/metrics",
		ProbeURL:    "http://" + addr(ports[2]),
		TokenFile:   tokenFile,
		exited:      make(chan struct{}),
	}
	logFile, err := os.CreateTemp(dir, "manager-*.log")
	if err != nil {
		return nil, err
	}
	m.LogPath = logFile.Name()
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--namespace=" + opts.Namespace,
		"--receiver-bind-address=" + receiverAddr,
		"--metrics-bind-address=" + addr(ports[1]),
		// Plain HTTP: the suites scrape it without credentials.
		"--metrics-secure=false",
		"--health-probe-bind-address=" + addr(ports[2]),
		"--receiver-token-file=" + tokenFile,
	}
	m.cmd = exec.Command(bin, append(args, opts.Args...)...)
	if len(opts.Env) > 0 {
		m.cmd.Env = append(os.Environ(), opts.Env...)
	}
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		m.err = m.cmd.Wait()
		_ = logFile.Close()
		close(m.exited)
	}()
	return m, nil
}

// Exited is closed when the manager process exits.
func (m *Manager) Exited() <-chan struct{} { return m.exited }

// Pid is the manager's process id.
func (m *Manager) Pid() int { return m.cmd.Process.Pid }

// WaitReady waits until /readyz answers 200, the process exits, or ctx ends.
func (m *Manager) WaitReady(ctx context.Context) error {
	for {
		if Ready(m.ProbeURL) {
			return nil
		}
		select {
		case <-m.exited:
			return fmt.Errorf("the manager exited before it was ready (%w); log: %s", m.err, m.LogPath)
		case <-ctx.Done():
			return fmt.Errorf("the manager was not ready: %w; log: %s", ctx.Err(), m.LogPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Ready reports whether the probe server at base answers /readyz with 200.
func Ready(base string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Signal sends sig to the manager.
func (m *Manager) Signal(sig os.Signal) error { return m.cmd.Process.Signal(sig) }

// Wait waits for the process to exit (or timeout) and returns its exit
// code; -1 when it was killed by a signal.
func (m *Manager) Wait(timeout time.Duration) (int, error) {
	select {
	case <-m.exited:
	case <-time.After(timeout):
		return 0, fmt.Errorf("the manager did not exit within %s; log: %s", timeout, m.LogPath)
	}
	var exitErr *exec.ExitError
	if m.err != nil && !errors.As(m.err, &exitErr) {
		return 0, m.err
	}
	return m.cmd.ProcessState.ExitCode(), nil
}

// Stop sends SIGTERM and waits for the process to exit, killing it after
// timeout. It is safe to call after the process has exited.
func (m *Manager) Stop(timeout time.Duration) {
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	if _, err := m.Wait(timeout); err != nil {
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// Log returns what the manager has logged so far.
func (m *Manager) Log() string {
	b, _ := os.ReadFile(m.LogPath)
	return string(b)
}

// FreePorts asks the kernel for n distinct free ports on loopback.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer func() { _ = l.Close() }()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// impersonating is kubeconfig with every user impersonating serviceAccount
// ("namespace/name"); kubeconfig itself when serviceAccount is empty.
func impersonating(kubeconfig []byte, serviceAccount string) ([]byte, error) {
	if serviceAccount == "" {
		return kubeconfig, nil
	}
	ns, name, ok := strings.Cut(serviceAccount, "/")
	if !ok || ns == "" || name == "" {
		return nil, fmt.Errorf("service account %q is not namespace/name", serviceAccount)
	}
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading the test's kubeconfig: %w", err)
	}
	for _, user := range cfg.AuthInfos {
		user.Impersonate = "system:serviceaccount:" + ns + ":" + name
	}
	return clientcmd.Write(*cfg)
}
