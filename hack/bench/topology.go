package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// Topologies: how the manager binary is run.
const (
	topologyInstalled  = "installed"
	topologyOneProcess = "one-process"
)

// Roles of a manager process.
const (
	roleReceiver   = "receiver"
	roleController = "controller"
	// roleManager is a manager running the receiver and the controller.
	roleManager = "manager"
)

// topologyIDStride separates the event ids of the topologies: each one
// adds its index times this to every id it sends.
const topologyIDStride = 10_000_000

// topologySpec is one way of running the operator: its manager processes
// and the flags that make each what it is.
type topologySpec struct {
	name  string
	how   string
	procs []procSpec
	// asServiceAccounts runs each process as its role's ServiceAccount,
	// with config/default's RBAC and priority levels (install.go).
	asServiceAccounts bool
}

type procSpec struct {
	role string
	args []string
}

// topologies are measured one after the other, in this order, each on its
// own namespace and event ids. The installed one is what config/ deploys
// (one replica of each Deployment) and what the targets are judged on.
var topologies = []topologySpec{
	{
		name:              topologyInstalled,
		how:               "the receiver and the leader-elected controller as two processes, each as its own ServiceAccount with config/'s RBAC and priority levels, as config/ installs them",
		asServiceAccounts: true,
		procs: []procSpec{
			{role: roleReceiver, args: []string{"--enable-controller=false", "--leader-elect=false"}},
			{role: roleController, args: []string{"--enable-receiver=false", "--leader-elect"}},
		},
	},
	{
		name:  topologyOneProcess,
		how:   "the receiver and the controller in one process, as make dev runs them (as the test's admin)",
		procs: []procSpec{{role: roleManager}},
	},
}

// topology is a running topology: its processes, and the tracker and
// sender of its namespace.
type topology struct {
	topologySpec
	namespace string
	// idOffset is added to every event id the topology is sent.
	idOffset int
	procs    []*proc
	tracker  *tracker
	sender   *sender
	res      *topologyResults
	// stopTracker ends the tracker's watches.
	stopTracker context.CancelFunc
}

// proc is one manager process of a topology.
type proc struct {
	role      string
	mgr       *testenv.Manager
	pprofAddr string
}

// id is the id of the i-th event from base, in this topology's range.
func (t *topology) id(base, i int) int64 { return int64(t.idOffset + base + i) }

// receiver is the process the deliveries go to.
func (t *topology) receiver() *proc {
	for _, p := range t.procs {
		if p.role != roleController {
			return p
		}
	}
	return nil
}

// startTopology starts the processes of spec on a namespace of their own,
// waits until each is ready (and the controller holds its Lease), and
// starts a tracker and a sender for the namespace.
func (b *bench) startTopology(ctx context.Context, spec topologySpec, index int) (*topology, error) {
	ns := "bench-" + spec.name
	t := &topology{topologySpec: spec, namespace: ns, idOffset: index * topologyIDStride,
		res: &topologyResults{Name: spec.name, How: spec.how, Namespace: ns}}
	b.res.Topologies = append(b.res.Topologies, t.res)
	if err := b.env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: t.namespace}}); err != nil {
		return nil, err
	}
	if spec.asServiceAccounts {
		n, err := b.installAccess(ctx, t.namespace)
		if err != nil {
			return nil, err
		}
		b.log("%s: applied config/default's %d ServiceAccounts, RBAC and priority objects to %s", t.name, n, t.namespace)
	}
	for _, ps := range spec.procs {
		p, err := b.startProc(ctx, t, ps)
		if err != nil {
			t.stop()
			return nil, err
		}
		t.procs = append(t.procs, p)
	}
	trackerCtx, cancel := context.WithCancel(ctx)
	t.stopTracker = cancel
	t.tracker = newTracker()
	if err := t.tracker.start(trackerCtx, b.env.Config, t.namespace); err != nil {
		t.stop()
		return nil, err
	}
	t.sender = newSender(t.receiver().mgr.ReceiverURL, b.token, 2*b.o.concurrency, t.tracker)
	return t, nil
}

// startProc starts one manager process and waits until it is ready and,
// when it elects a leader, until it leads.
func (b *bench) startProc(ctx context.Context, t *topology, ps procSpec) (*proc, error) {
	args := append([]string{"--receiver-shutdown-delay=0s"}, ps.args...)
	if b.o.managerArgs != "" {
		args = append(args, strings.Fields(b.o.managerArgs)...)
	}
	p := &proc{role: ps.role}
	if b.o.cpuProfileSeconds > 0 {
		ports, err := testenv.FreePorts(1)
		if err != nil {
			return nil, err
		}
		p.pprofAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
		args = append(args, "--pprof-bind-address="+p.pprofAddr)
	}
	opts := testenv.ManagerOptions{Namespace: t.namespace, Tokens: []string{b.token}, Binary: b.bin, Args: args}
	if t.asServiceAccounts {
		opts.ServiceAccount = t.namespace + "/" + serviceAccounts[ps.role]
	}
	mgr, err := b.env.StartManager(opts)
	if err != nil {
		return nil, err
	}
	p.mgr = mgr
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := mgr.WaitReady(readyCtx); err != nil {
		mgr.Stop(30 * time.Second)
		return nil, fmt.Errorf("%s %s: %w", t.name, ps.role, err)
	}
	info := managerInfo{Role: ps.role, Binary: b.bin, Args: args, Pid: mgr.Pid(), Log: mgr.LogPath, ServiceAccount: opts.ServiceAccount}
	if ps.role == roleController {
		// Ready is not enough: a leader-elected controller reconciles only
		// once it holds the Lease.
		if err := waitLeader(readyCtx, mgr); err != nil {
			mgr.Stop(30 * time.Second)
			return nil, fmt.Errorf("%s %s: %w", t.name, ps.role, err)
		}
		info.LeaderAfterSeconds = time.Since(start).Seconds()
	}
	t.res.Processes = append(t.res.Processes, info)
	b.log("%s: %s running (pid %d), %s; log %s", t.name, ps.role, mgr.Pid(), strings.Join(args, " "), mgr.LogPath)
	return p, nil
}

// waitLeader waits until the manager reports, by its metrics, that it
// holds its leader election Lease.
func waitLeader(ctx context.Context, m *testenv.Manager) error {
	return waitManager(ctx, m, "acquire its Lease", func() bool {
		v, err := managerMetric(ctx, m.MetricsURL, "leader_election_master_status")
		return err == nil && v == 1
	})
}

// waitManager polls done until it reports true, the manager exits (an
// error saying it did not get to what), or ctx ends.
func waitManager(ctx context.Context, m *testenv.Manager, what string, done func() bool) error {
	for !done() {
		select {
		case <-m.Exited():
			return fmt.Errorf("the manager exited before it could %s; log: %s", what, m.LogPath)
		case <-ctx.Done():
			return fmt.Errorf("the manager did not %s: %w; log: %s", what, ctx.Err(), m.LogPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// stop ends the tracker's watches and the processes.
func (t *topology) stop() {
	if t.stopTracker != nil {
		t.stopTracker()
	}
	for _, p := range t.procs {
		p.mgr.Stop(30 * time.Second)
	}
}

// runTopology starts a topology, runs every webhook phase through it,
// notes what its processes logged as errors, and stops it.
func (b *bench) runTopology(ctx context.Context, spec topologySpec, index int) error {
	b.log("topology %s: %s", spec.name, spec.how)
	t, err := b.startTopology(ctx, spec, index)
	if err != nil {
		return err
	}
	defer t.stop()
	levels0, err := b.api.dispatchedByLevel(ctx)
	if err != nil {
		return err
	}
	if err := b.warmUpReceiver(ctx, t); err != nil {
		return err
	}
	if err := b.webhookPhases(ctx, t); err != nil {
		return err
	}
	levels1, err := b.api.dispatchedByLevel(ctx)
	if err != nil {
		return err
	}
	t.res.DispatchedByLevel = map[string]float64{}
	for level, n := range levels1 {
		if d := n - levels0[level]; d > 0 {
			t.res.DispatchedByLevel[level] = d
		}
	}
	if spec.asServiceAccounts {
		// Each process's requests went through its own priority level:
		// otherwise the run did not measure what config/ installs.
		for _, sa := range serviceAccounts {
			if t.res.DispatchedByLevel[sa] == 0 {
				return fmt.Errorf("%s: no request was dispatched in priority level %s (by level: %v)", t.name, sa, t.res.DispatchedByLevel)
			}
		}
	}
	b.log("%s: requests dispatched by priority level: %v", t.name, t.res.DispatchedByLevel)
	for i, p := range t.procs {
		info := &t.res.Processes[i]
		info.LogErrors, info.LogFirst = logErrors(p.mgr.LogPath)
	}
	return nil
}
