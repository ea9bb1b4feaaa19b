package testenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// Component is a process of the test control plane.
type Component string

// The control plane processes a test can freeze.
const (
	APIServer Component = "kube-apiserver"
	Etcd      Component = "etcd"
)

// Pid finds the process id of this Env's kube-apiserver or etcd: the
// process running the cached binary whose flags name this Env's port, so
// that the control planes of test packages running side by side are told
// apart.
func (e *Env) Pid(c Component) (int, error) {
	assets, err := AssetsDir()
	if err != nil {
		return 0, err
	}
	var flagArg string
	switch c {
	case APIServer:
		flagArg = "--secure-port=" + e.Environment.ControlPlane.APIServer.Port
	case Etcd:
		if e.Environment.ControlPlane.Etcd == nil || e.Environment.ControlPlane.Etcd.URL == nil {
			return 0, fmt.Errorf("etcd has no URL yet")
		}
		flagArg = "--listen-client-urls=" + e.Environment.ControlPlane.Etcd.URL.String()
	default:
		return 0, fmt.Errorf("unknown control plane component %q", c)
	}
	binary := filepath.Join(assets, string(c))
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("listing processes: %w", err)
	}
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
		if len(args) == 0 || string(args[0]) != binary {
			continue
		}
		for _, a := range args[1:] {
			if string(a) == flagArg {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no %s process with %s", binary, flagArg)
}

// Freeze stops a control plane process with SIGSTOP: it keeps its state,
// its connections and its certificates but answers nothing, as an API
// server or etcd that hangs or is cut off by the network. (Stopping and
// starting envtest's API server instead would mint a new CA, and every
// client made before would fail TLS.) The returned thaw resumes it with
// SIGCONT; it is safe to call more than once, and a test should register
// it with t.Cleanup so that a failure never leaves the control plane
// frozen.
func (e *Env) Freeze(c Component) (thaw func() error, err error) {
	pid, err := e.Pid(c)
	if err != nil {
		return nil, err
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("freezing %s (pid %d): %w", c, pid, err)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			if err = syscall.Kill(pid, syscall.SIGCONT); err != nil {
				err = fmt.Errorf("thawing %s (pid %d): %w", c, pid, err)
			}
		})
		return err
	}, nil
}

// ProcessRSS is the resident set size of a process, in bytes, from
// /proc/<pid>/status.
func ProcessRSS(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			fields := bytes.Fields(rest)
			if len(fields) == 2 && string(fields[1]) == "kB" {
				kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
