// Package localcluster runs a real single-node Kubernetes cluster on this
// machine: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// containerd with runc, the kubelet and kube-proxy, each built from source
// through the Go module proxy (binaries.sh, cached outside the clone and
// keyed by version) and every image built here (nothing is ever pulled).
// `make cluster-up`, `make deploy-local` and the e2e suite (test/e2e) use
// it through hack/cluster.
//
// It needs root. Every packet stays on the machine: the node is a bridge
// with no ports, pods have no default route, containerd's proxy is a
// closed local port. It stops only the processes it started, by PID, and
// Down compares the host with what Up read before it started (processes,
// mounts, cgroups, links, addresses, routes, nftables and iptables rules,
// sysctls, the directories the components create), failing when anything
// differs.
package localcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Changes lists how the host differs from what Up read before it started:
// what Down will undo.
func Changes() ([]string, error) {
	before, err := loadHost(hostStateFile)
	if err != nil {
		return nil, fmt.Errorf("the cluster is not up: %w", err)
	}
	now, err := readHost()
	if err != nil {
		return nil, err
	}
	return before.diff(now), nil
}

// SaveLogs copies the components' logs and the pods' logs into dir, for a
// failed run to be read after Down removed them.
func SaveLogs(dir string) error {
	var errs []error
	for _, src := range []string{logDir, filepath.Join(dataDir, "pod-logs")} {
		errs = append(errs, os.CopyFS(filepath.Join(dir, filepath.Base(src)), os.DirFS(src)))
	}
	return errors.Join(errs...)
}
