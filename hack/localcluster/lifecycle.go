package localcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// BinariesDir builds (the first time) and finds every binary the cluster
// runs, kubectl among them, with hack/localcluster/binaries.sh.
func BinariesDir() (string, error) {
	var stdout bytes.Buffer
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "localcluster", "binaries.sh"))
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the cluster's binaries: %w", err)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Kubeconfig is the path of the cluster administrator's kubeconfig while
// the cluster is up.
func Kubeconfig() string { return adminKubeconfig }

// Up starts the cluster, or leaves a running one alone, and tells log what
// it does. A start that fails is cleaned up.
func Up(ctx context.Context, log io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("the cluster needs root (it creates network links, mounts and cgroups)")
	}
	if IsUp() {
		fmt.Fprintln(log, "The cluster is already up.")
		return nil
	}
	if fileExists(stateDir) {
		fmt.Fprintln(log, "A cluster that is no longer whole was found; cleaning it up first.")
		if err := Down(log); err != nil {
			return err
		}
	}
	if err := prereqs(); err != nil {
		return err
	}
	bin, err := BinariesDir()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := startCluster(ctx, bin, log); err != nil {
		err = fmt.Errorf("starting the cluster: %w\n%s", err, tailLogs())
		if downErr := Down(log); downErr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up: %w", downErr))
		}
		return err
	}
	fmt.Fprintf(log, "The cluster is up (%.1fs).\n", time.Since(start).Seconds())
	return nil
}

// prereqs installs the Debian packages the cluster needs, if any is
// missing (hack/localcluster/prereqs.sh).
func prereqs() error {
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "localcluster", "prereqs.sh"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("installing the cluster's Debian packages: %w", err)
	}
	return nil
}

// startCluster reads the host, then starts every component and waits for
// each to be ready.
func startCluster(ctx context.Context, bin string, log io.Writer) error {
	for _, d := range []string{stateDir, pkiDir, logDir, pidDir, dataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	before, err := readHost()
	if err != nil {
		return fmt.Errorf("reading the host's state: %w", err)
	}
	if err := before.save(hostStateFile); err != nil {
		return err
	}
	step(log, "node network: bridge %s %s, service range %s routed to it", nodeBridge, nodePrefix, serviceCIDR)
	for _, args := range [][]string{
		{"link", "add", nodeBridge, "type", "bridge"},
		{"addr", "add", nodePrefix, "dev", nodeBridge},
		{"link", "set", nodeBridge, "up"},
		{"route", "add", serviceCIDR, "dev", nodeBridge, "src", nodeIP},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := newPKI(pkiDir, apiserverURL()); err != nil {
		return fmt.Errorf("creating certificates: %w", err)
	}
	if err := writeConfigs(); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", adminKubeconfig)
	if err != nil {
		return err
	}
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ready := map[string]func(context.Context) error{
		"etcd": func(ctx context.Context) error {
			return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/health", etcdClientPort))
		},
		"kube-apiserver": func(ctx context.Context) error {
			_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			return err
		},
		"kube-controller-manager": func(ctx context.Context) error {
			return httpOK(ctx, fmt.Sprintf("https://127.0.0.1:%d/healthz", kcmPort))
		},
		"kube-scheduler": func(ctx context.Context) error {
			return httpOK(ctx, fmt.Sprintf("https://127.0.0.1:%d/healthz", schedulerPort))
		},
		"containerd": func(ctx context.Context) error {
			if _, err := ctr(ctx, bin, "version"); err != nil {
				return err
			}
			return importPause(ctx, bin)
		},
		"kubelet": func(ctx context.Context) error { return nodeReady(ctx, cs) },
		"kube-proxy": func(ctx context.Context) error {
			return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/healthz", proxyHealthz))
		},
	}
	for _, c := range components(bin) {
		t := time.Now()
		if err := startProcess(c); err != nil {
			return err
		}
		if err := waitFor(ctx, c.name, 90*time.Second, ready[c.name]); err != nil {
			return err
		}
		step(log, "%s ready (%.1fs)", c.name, time.Since(t).Seconds())
	}
	// Pods can be created only once their namespace's default
	// ServiceAccount exists.
	return waitFor(ctx, "the default ServiceAccount", time.Minute, func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

func step(log io.Writer, format string, args ...any) {
	fmt.Fprintf(log, "  "+format+"\n", args...)
}

// startProcess starts a component in a session of its own, so that it
// outlives this command, and records its PID.
func startProcess(c component) error {
	logFile, err := os.OpenFile(filepath.Join(logDir, c.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(c.bin, c.args...)
	cmd.Env = append(os.Environ(), c.env...)
	// The components find the shim, runc, iptables and the CNI plugins on
	// PATH.
	cmd.Env = append(cmd.Env, "PATH="+filepath.Dir(c.bin)+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", c.name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(filepath.Join(pidDir, c.name), []byte(strconv.Itoa(pid)+" "+c.bin), 0o600); err != nil {
		return err
	}
	_ = cmd.Process.Release()
	return nil
}

// waitFor polls check until it succeeds, the component it waits for dies,
// or timeout passes.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		if _, _, alive := recordedProcess(what); !alive && fileExists(filepath.Join(pidDir, what)) {
			return fmt.Errorf("%s exited; its log: %s", what, filepath.Join(logDir, what+".log"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %w)", what, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

var insecureClient = &http.Client{
	Timeout: 5 * time.Second,
	// Only the health endpoints of our own components on loopback.
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := insecureClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func nodeReady(ctx context.Context, cs kubernetes.Interface) error {
	node, err := cs.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return nil
			}
			return fmt.Errorf("node %s not ready: %s", nodeName, c.Message)
		}
	}
	return fmt.Errorf("node %s has no Ready condition yet", nodeName)
}

// ctr runs containerd's CLI against the cluster's containerd, in the
// namespace the kubelet's images live in.
func ctr(ctx context.Context, bin string, args ...string) ([]byte, error) {
	full := append([]string{"--address", containerdSocket, "--namespace", "k8s.io"}, args...)
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "ctr"), full...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// importPause builds the sandbox image and imports it.
func importPause(ctx context.Context, bin string) error {
	tar := filepath.Join(stateDir, "pause.tar")
	if err := buildPauseImage(ctx, tar); err != nil {
		return err
	}
	_, err := ctr(ctx, bin, "images", "import", "--local", tar)
	return err
}

// Load imports image tarballs into the node's containerd, where the
// kubelet finds them (a pod's image is never pulled: nothing is
// reachable).
func Load(ctx context.Context, log io.Writer, tars ...string) error {
	if !IsUp() {
		return errors.New("the cluster is not up: run `make cluster-up`")
	}
	bin := recordedBinDir()
	for _, tar := range tars {
		out, err := ctr(ctx, bin, "images", "import", "--local", tar)
		if err != nil {
			return err
		}
		_, _ = log.Write(out)
	}
	return nil
}

// IsUp reports whether every component of the cluster runs.
func IsUp() bool {
	for _, c := range components("") {
		if _, _, alive := recordedProcess(c.name); !alive {
			return false
		}
	}
	return true
}

// recordedProcess reads the PID file of a component and reports whether
// that PID still runs the component's binary (not a process that reused
// the PID).
func recordedProcess(name string) (pid int, bin string, alive bool) {
	b, err := os.ReadFile(filepath.Join(pidDir, name))
	if err != nil {
		return 0, "", false
	}
	pidText, bin, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	pid, err = strconv.Atoi(pidText)
	if err != nil {
		return 0, "", false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return pid, bin, err == nil && sameFile(exe, bin)
}

func sameFile(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// tailLogs returns the last lines of each component's log.
func tailLogs() string {
	var b strings.Builder
	entries, _ := os.ReadDir(logDir)
	for _, e := range entries {
		content, err := os.ReadFile(filepath.Join(logDir, e.Name()))
		if err != nil {
			continue
		}
		ls := strings.Split(strings.TrimRight(string(content), "\n"), "\n")
		fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", e.Name(), strings.Join(ls[max(0, len(ls)-15):], "\n"))
	}
	return b.String()
}

// Down stops every process the cluster started, removes what it created,
// restores what it changed, and compares the host with what Up read before
// it started: it fails when anything differs.
func Down(log io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("the cluster needs root")
	}
	before, err := loadHost(hostStateFile)
	if errors.Is(err, os.ErrNotExist) {
		if fileExists(stateDir) {
			// up failed before it read the host: only its own directories
			// exist.
			return errors.Join(removeUnmounted(stateDir), removeUnmounted(dataDir))
		}
		fmt.Fprintln(log, "The cluster is not up.")
		return nil
	}
	if err != nil {
		return err
	}
	bin := recordedBinDir()
	var errs []error
	order := components("")
	slices.Reverse(order)
	for _, c := range order {
		switch c.name {
		case "containerd":
			// The pods' processes and their shims first: they are ours
			// (containerd started them for our kubelet).
			errs = append(errs, killPodProcesses(bin))
		}
		errs = append(errs, stopRecorded(c.name))
	}
	leftovers := leftoverProcesses(bin)
	errs = append(errs, restoreHost(before))
	errs = append(errs, removeUnmounted(dataDir))
	after, err := readHost()
	if err != nil {
		errs = append(errs, err)
	} else if diff := append(leftovers, before.diff(after)...); len(diff) > 0 {
		errs = append(errs, fmt.Errorf("the host is not as the cluster found it:\n  %s", strings.Join(diff, "\n  ")))
	}
	errs = append(errs, removeUnmounted(stateDir))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintln(log, "The cluster is down; the host is as it was before `up` (processes, mounts, cgroups, links, addresses, routes, rules, sysctls, directories).")
	return nil
}

// recordedBinDir is the binaries directory the running cluster was
// started from, or "" when no PID was recorded.
func recordedBinDir() string {
	for _, c := range components("") {
		if _, bin, _ := recordedProcess(c.name); bin != "" {
			return filepath.Dir(bin)
		}
	}
	return ""
}

// leftoverProcesses lists the processes of the cluster still running: a
// recorded PID, anything started from the binaries directory (the shims),
// anything in a pod's cgroup.
func leftoverProcesses(bin string) []string {
	var res []string
	for _, c := range components("") {
		if pid, _, alive := recordedProcess(c.name); alive {
			res = append(res, fmt.Sprintf("process still running: %s (PID %d)", c.name, pid))
		}
	}
	for _, pid := range pidsWhere(func(pid int) bool { return pidAlive(pid) && clusterProcess(pid, bin) }) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		res = append(res, fmt.Sprintf("process still running: %s (PID %d)", strings.TrimSpace(string(comm)), pid))
	}
	return res
}

// clusterProcess reports whether pid was started by the cluster: from its
// binaries directory, or in a pod's cgroup.
func clusterProcess(pid int, bin string) bool {
	return podProcess(pid) || (bin != "" && exeIn(pid, bin))
}

func podProcess(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	return err == nil && strings.Contains(string(b), "/kubepods")
}

func exeIn(pid int, dir string) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && filepath.Dir(exe) == dir
}

// stopRecorded stops a component by its recorded PID: SIGTERM, then
// SIGKILL after 10s.
func stopRecorded(name string) error {
	pid, _, alive := recordedProcess(name)
	if !alive {
		return nil
	}
	return stopPID(pid, 10*time.Second)
}

func stopPID(pid int, grace time.Duration) error {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !pidAlive(pid) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for range 50 {
		if !pidAlive(pid) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("process %d did not exit after SIGKILL", pid)
}

// pidAlive reports whether pid runs and is not a zombie.
func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// killPodProcesses kills every process in the kubelet's pod cgroups, then
// the containerd shims that ran them.
func killPodProcesses(bin string) error {
	var errs []error
	for _, pid := range pidsWhere(podProcess) {
		errs = append(errs, stopPID(pid, 0))
	}
	shim := filepath.Join(bin, "containerd-shim-runc-v2")
	for _, pid := range pidsWhere(func(pid int) bool {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		return bin != "" && err == nil && exe == shim
	}) {
		errs = append(errs, stopPID(pid, 5*time.Second))
	}
	return errors.Join(errs...)
}

func pidsWhere(match func(int) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var res []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if match(pid) {
			res = append(res, pid)
		}
	}
	return res
}

// restoreHost undoes the changes the cluster made to the host: mounts,
// links, cgroups, nftables/iptables rules, sysctls and directories.
func restoreHost(before *hostState) error {
	now, err := readHost()
	if err != nil {
		return err
	}
	var errs []error
	had := toSet(before.Mounts)
	mounts := slices.Clone(now.Mounts)
	slices.Reverse(mounts) // deepest first
	for _, m := range mounts {
		if !had[m] {
			errs = append(errs, unmount(m))
		}
	}
	hadLink := toSet(before.Links)
	for _, l := range now.Links {
		if !hadLink[l] {
			if out, err := exec.Command("ip", "link", "delete", l).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
				errs = append(errs, fmt.Errorf("ip link delete %s: %w: %s", l, err, out))
			}
		}
	}
	hadCgroup := toSet(before.Cgroups)
	cgroups := slices.Clone(now.Cgroups)
	slices.Reverse(cgroups) // children first
	for _, c := range cgroups {
		if !hadCgroup[c] {
			errs = append(errs, removeCgroup(c))
		}
	}
	errs = append(errs, restoreRules(before, now))
	for k, v := range before.Sysctls {
		if cur, ok := now.Sysctls[k]; ok && cur != v {
			if err := os.WriteFile("/proc/sys/"+strings.ReplaceAll(k, ".", "/"), []byte(v), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("restoring sysctl %s = %s: %w", k, v, err))
			}
		}
	}
	for p, existed := range before.Paths {
		if !existed && now.Paths[p] {
			errs = append(errs, removeUnmounted(p))
		}
	}
	return errors.Join(errs...)
}

// removeUnmounted removes dir and everything in it, unless something is
// still mounted under it: RemoveAll would then delete what the mount
// shows, which may be the host's own files.
func removeUnmounted(dir string) error {
	mounts, err := mountPoints()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if m == dir || strings.HasPrefix(m, dir+"/") {
			return fmt.Errorf("not removing %s: %s is still mounted", dir, m)
		}
	}
	return os.RemoveAll(dir)
}

// removeCgroup removes an empty cgroup, retrying while the kernel
// finishes releasing the processes that were in it.
func removeCgroup(path string) error {
	var err error
	for range 50 {
		if err = syscall.Rmdir(path); err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", path, err)
}

// restoreRules deletes the nftables tables that did not exist before (the
// iptables-nft tables kube-proxy and the kubelet made among them) and puts
// the iptables tables that did exist back as they were.
func restoreRules(before, now *hostState) error {
	had := toSet(nftTables(before.Nft))
	var errs []error
	for _, t := range nftTables(now.Nft) {
		if !had[t] {
			if out, err := exec.Command("nft", append([]string{"delete"}, strings.Fields(t)...)...).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("nft delete %s: %w: %s", t, err, out))
			}
		}
	}
	after, err := readHost()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if after.IPTables != before.IPTables && before.IPTables != "" {
		errs = append(errs, restoreTables("iptables-restore", before.IPTables))
	}
	if after.IP6Tables != before.IP6Tables && before.IP6Tables != "" {
		errs = append(errs, restoreTables("ip6tables-restore", before.IP6Tables))
	}
	return errors.Join(errs...)
}

func restoreTables(cmd, content string) error {
	c := exec.Command(cmd)
	c.Stdin = strings.NewReader(content)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", cmd, err, out)
	}
	return nil
}

// nftTables lists "table <family> <name>" for each table in a ruleset.
func nftTables(ruleset string) []string {
	var res []string
	for l := range strings.SplitSeq(ruleset, "\n") {
		if strings.HasPrefix(l, "table ") {
			res = append(res, strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), "{")))
		}
	}
	return res
}
