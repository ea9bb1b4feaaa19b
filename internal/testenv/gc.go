package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// GarbageCollector is a kube-controller-manager running only its garbage
// collector, so that deleting an owner really deletes what it owns, as in
// a cluster. envtest alone runs no controllers.
type GarbageCollector struct {
	cmd    *exec.Cmd
	dir    string
	exited chan struct{}
}

// StartGarbageCollector starts kube-controller-manager against the Env's
// API server with only the garbage collector enabled. Its log goes to
// kube-controller-manager.log in a temporary directory, kept if it fails.
func (e *Env) StartGarbageCollector() (*GarbageCollector, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kcm-")
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, e.Environment.KubeConfig, 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "kube-controller-manager.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig="+kubeconfig,
		"--controllers=garbagecollector",
		"--leader-elect=false",
		"--secure-port=0",
		"--concurrent-gc-syncs=5",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	gc := &GarbageCollector{cmd: cmd, dir: dir, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(gc.exited)
	}()
	return gc, nil
}

// Stop stops kube-controller-manager and removes its directory.
func (gc *GarbageCollector) Stop() {
	_ = gc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-gc.exited:
	case <-time.After(20 * time.Second):
		_ = gc.cmd.Process.Kill()
		<-gc.exited
	}
	_ = os.RemoveAll(gc.dir)
}

// LogPath is where kube-controller-manager writes its log.
func (gc *GarbageCollector) LogPath() string {
	return filepath.Join(gc.dir, "kube-controller-manager.log")
}
