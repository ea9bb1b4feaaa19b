package localcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// The cluster's fixed addresses. Every packet stays on this machine: the
// node is a Linux bridge with no ports (the kernel here has no dummy
// links), pods get routes to the pod range, the service range and the
// node only (no default route), and the service range is routed to the
// node bridge. The ports are fixed and below 32768, clear of the random
// ports envtest's control planes take.
const (
	nodeName            = "ingresse-node"
	nodeBridge          = "ie-node0"
	nodeIP              = "10.200.0.1"
	nodePrefix          = "10.200.0.1/24"
	nodeNet             = "10.200.0.0/24"
	cniBridge           = "ie-cni0"
	clusterCIDR         = "10.244.0.0/16"
	nodePodCIDR         = "10.244.0.0/24"
	podGateway          = "10.244.0.1"
	serviceCIDR         = "10.96.0.0/24"
	kubernetesServiceIP = "10.96.0.1"

	apiserverPort  = 6443
	etcdClientPort = 12379
	etcdPeerPort   = 12380
	kcmPort        = 10257
	schedulerPort  = 10259
	kubeletPort    = 10250
	kubeletHealthz = 10248
	proxyHealthz   = 10256
	proxyMetrics   = 10249

	// pauseImage is the sandbox image, built here and pinned in containerd:
	// nothing is ever pulled.
	pauseImage = "ingresse.local/pause:1"
)

// The cluster's directories: state (PIDs, certificates, sockets, logs) on
// tmpfs, data (etcd, images, pod volumes) on disk. `down` removes both.
const (
	stateDir = "/run/ingresse-operator-cluster"
	dataDir  = "/var/lib/ingresse-operator-cluster"
)

var (
	pkiDir           = filepath.Join(stateDir, "pki")
	logDir           = filepath.Join(stateDir, "logs")
	pidDir           = filepath.Join(stateDir, "pids")
	hostStateFile    = filepath.Join(stateDir, "host-before.json")
	containerdSocket = filepath.Join(stateDir, "containerd", "containerd.sock")
	cniConfDir       = filepath.Join(stateDir, "cni")
	// AdminKubeconfig is what `make cluster-up` tells users to export.
	adminKubeconfig = filepath.Join(pkiDir, "admin.kubeconfig")
)

func apiserverURL() string { return "https://" + nodeIP + ":" + strconv.Itoa(apiserverPort) }

// component is one process of the cluster.
type component struct {
	name string
	bin  string // its binary; the binaries directory holds it under its name
	args []string
	env  []string
}

// components are the cluster's processes, in the order they start (and the
// reverse of the order they stop). bin is the binaries' directory.
func components(bin string) []component {
	pk := func(name string) string { return filepath.Join(pkiDir, name) }
	cs := []component{
		{name: "etcd", args: []string{
			"--name=" + nodeName,
			"--data-dir=" + filepath.Join(dataDir, "etcd"),
			"--listen-client-urls=http://127.0.0.1:" + strconv.Itoa(etcdClientPort),
			"--advertise-client-urls=http://127.0.0.1:" + strconv.Itoa(etcdClientPort),
			"--listen-peer-urls=http://127.0.0.1:" + strconv.Itoa(etcdPeerPort),
			"--initial-advertise-peer-urls=http://127.0.0.1:" + strconv.Itoa(etcdPeerPort),
			"--initial-cluster=" + nodeName + "=http://127.0.0.1:" + strconv.Itoa(etcdPeerPort),
			"--unsafe-no-fsync", // a test cluster: speed over durability
			"--log-level=warn",
		}},
		{name: "kube-apiserver", args: []string{
			"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(etcdClientPort),
			"--bind-address=" + nodeIP,
			"--advertise-address=" + nodeIP,
			"--secure-port=" + strconv.Itoa(apiserverPort),
			"--tls-cert-file=" + pk("apiserver.crt"),
			"--tls-private-key-file=" + pk("apiserver.key"),
			"--client-ca-file=" + pk("ca.crt"),
			"--kubelet-client-certificate=" + pk("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + pk("apiserver-kubelet-client.key"),
			"--kubelet-preferred-address-types=InternalIP",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + pk("sa.pub"),
			"--service-account-signing-key-file=" + pk("sa.key"),
			"--service-cluster-ip-range=" + serviceCIDR,
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=false",
			"--profiling=false",
		}},
		{name: "kube-controller-manager", args: []string{
			"--kubeconfig=" + pk("kube-controller-manager.kubeconfig"),
			"--authentication-kubeconfig=" + pk("kube-controller-manager.kubeconfig"),
			"--authorization-kubeconfig=" + pk("kube-controller-manager.kubeconfig"),
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(kcmPort),
			"--leader-elect=false",
			"--use-service-account-credentials",
			"--service-account-private-key-file=" + pk("sa.key"),
			"--root-ca-file=" + pk("ca.crt"),
			"--cluster-signing-cert-file=" + pk("ca.crt"),
			"--cluster-signing-key-file=" + pk("ca.key"),
			"--allocate-node-cidrs",
			"--cluster-cidr=" + clusterCIDR,
			"--node-cidr-mask-size=24",
			"--service-cluster-ip-range=" + serviceCIDR,
			"--profiling=false",
		}},
		{name: "kube-scheduler", args: []string{
			"--kubeconfig=" + pk("kube-scheduler.kubeconfig"),
			"--authentication-kubeconfig=" + pk("kube-scheduler.kubeconfig"),
			"--authorization-kubeconfig=" + pk("kube-scheduler.kubeconfig"),
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(schedulerPort),
			"--leader-elect=false",
			"--profiling=false",
		}},
		{name: "containerd", args: []string{
			"--config=" + filepath.Join(stateDir, "containerd.toml"),
		}, env: []string{
			// An image pull, which nothing here should ever do, fails at
			// once instead of leaving the machine.
			"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "NO_PROXY=",
		}},
		{name: "kubelet", args: []string{
			"--config=" + filepath.Join(stateDir, "kubelet.yaml"),
			"--kubeconfig=" + pk("kubelet.kubeconfig"),
			"--root-dir=" + filepath.Join(dataDir, "kubelet"),
			"--hostname-override=" + nodeName,
			"--node-ip=" + nodeIP,
		}},
		{name: "kube-proxy", args: []string{
			"--config=" + filepath.Join(stateDir, "kube-proxy.yaml"),
		}},
	}
	for i := range cs {
		cs[i].bin = filepath.Join(bin, cs[i].name)
	}
	return cs
}

// writeConfigs writes containerd's, the kubelet's, kube-proxy's and the CNI
// plugin's configuration files.
func writeConfigs() error {
	files := map[string]string{
		filepath.Join(stateDir, "containerd.toml"):        containerdConfig(),
		filepath.Join(stateDir, "kubelet.yaml"):           kubeletConfig(),
		filepath.Join(stateDir, "kube-proxy.yaml"):        kubeProxyConfig(),
		filepath.Join(cniConfDir, "10-ingresse.conflist"): cniConfig(),
	}
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// containerdConfig: containerd 2.x's configuration (version 3). Everything
// it keeps lives under the cluster's directories; shims still put their
// sockets in /run/containerd/s, which `down` removes.
func containerdConfig() string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
imports = []

[grpc]
  address = %[3]q

[ttrpc]
  address = ""

[plugins.'io.containerd.internal.v1.opt']
  path = %[4]q

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %[5]q

[plugins.'io.containerd.cri.v1.runtime']
  # root here lacks CAP_SYS_RESOURCE, so no process may lower its OOM
  # score; without this runc fails every sandbox ("can't get final
  # child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '/usr/sbin/runc'
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = %[6]q
    use_internal_loopback = true

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
`, filepath.Join(dataDir, "containerd"), filepath.Join(stateDir, "containerd"), containerdSocket,
		filepath.Join(dataDir, "containerd-opt"), pauseImage, cniConfDir)
}

// kubeletConfig: cgroup v1 with the cgroupfs driver (there is no systemd
// here), no DNS (there is none, and no packet may leave the machine),
// everything under the cluster's directories, and a 10s pod sync so that
// updated Secrets and ConfigMaps reach mounted volumes in seconds.
func kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://%[1]s
address: %[2]s
port: %[3]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[4]d
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[5]s
authorization:
  mode: Webhook
podLogsDir: %[6]s
volumePluginDir: %[7]s
resolvConf: ""
oomScoreAdj: 0
syncFrequency: 10s
failSwapOn: false
evictionHard:
  memory.available: 100Mi
  nodefs.available: "1%%"
  imagefs.available: "1%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
shutdownGracePeriod: 0s
`, containerdSocket, nodeIP, kubeletPort, kubeletHealthz, filepath.Join(pkiDir, "ca.crt"),
		filepath.Join(dataDir, "pod-logs"), filepath.Join(dataDir, "volume-plugins"))
}

// kubeProxyConfig: iptables mode, and no change to the host's conntrack
// sysctls or route_localnet.
func kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %[1]s
hostnameOverride: %[2]s
bindAddress: %[3]s
healthzBindAddress: 127.0.0.1:%[4]d
metricsBindAddress: 127.0.0.1:%[5]d
mode: iptables
clusterCIDR: %[6]s
oomScoreAdj: 0
iptables:
  localhostNodePorts: false
  minSyncPeriod: 0s
  syncPeriod: 30s
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
nodePortAddresses:
- %[7]s
`, filepath.Join(pkiDir, "kube-proxy.kubeconfig"), nodeName, nodeIP, proxyHealthz, proxyMetrics, clusterCIDR, nodeNet)
}

// cniConfig: one bridge for the pods, the gateway on the host, no default
// route in the pods and no masquerading.
func cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "ingresse-cluster",
  "plugins": [{
    "type": "bridge",
    "bridge": %[1]q,
    "isGateway": true,
    "isDefaultGateway": false,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": %[2]q,
      "ranges": [[{"subnet": %[3]q, "gateway": %[4]q}]],
      "routes": [{"dst": %[5]q}, {"dst": %[6]q}, {"dst": %[7]q}]
    }
  }]
}
`, cniBridge, filepath.Join(dataDir, "cni"), nodePodCIDR, podGateway, clusterCIDR, serviceCIDR, nodeNet)
}
