//go:build e2e

// Package e2e proves the operator in a real cluster on this machine
// (hack/localcluster: kubelet, containerd, runc, kube-proxy): the image
// the install names starts as the Deployments say, under the restricted
// Pod Security level, with the ServiceAccounts and RBAC we ship;
// deliveries go through the receiver's Service; a workload consumes the
// result; tokens rotate through the Secret; a rolling update, a killed
// receiver and a deleted controller leader lose nothing; the real garbage
// collector removes a deleted event's ConfigMap; and, last, the Helm
// chart installs the same operator, which `helm uninstall` removes.
//
// `make e2e` runs it from nothing: it starts the cluster, installs the
// operator the way `make deploy-local` does (and follows the instructions
// that prints), runs the tests in file order, prints a table of what each
// did to the deliveries, and stops the cluster, failing if the host is not
// as it was. It needs root. INGRESSE_E2E_KEEP_CLUSTER=1 leaves the cluster
// up afterwards; a failed run copies every log to bin/e2e-logs.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ingresse-operator/ingresse-operator/hack/imagebuild"
	"github.com/ingresse-operator/ingresse-operator/hack/localcluster"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// What config/default installs.
const (
	ns                 = "ingresse-system"
	receiverDeployment = "ingresse-receiver"
	controllerDeploy   = "ingresse-controller"
	tokenSecret        = "ingresse-receiver-token"
	metricsService     = "ingresse-metrics"
	leaseName          = "ingresse-operator.events.ingresse.com"
)

var (
	ctx = context.Background()
	// k8s and clientset reach the cluster as its administrator.
	k8s       client.Client
	clientset *kubernetes.Clientset
	// kubectl is the kubectl binary, run with the admin kubeconfig.
	kubectlBin string
	// deployOutput is what `make deploy-local` printed; receiverURL and
	// token are read from it, and token changes when a test rotates it.
	deployOutput string
	receiverURL  string
	token        string
)

// consumerImage is the consumer workload's image (test/e2e/consumer and
// kubectl), built and loaded by the suite.
const consumerImage = "ingresse.local/e2e-consumer:1"

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: the suite runs a real cluster on this machine and needs root")
		return 1
	}
	if localcluster.IsUp() {
		fmt.Fprintln(os.Stderr, "e2e: a cluster is already up; the suite starts from nothing: run `make cluster-down` first")
		return 1
	}
	start := time.Now()
	if err := localcluster.Up(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	addRow(row{what: "cluster up (etcd, apiserver, controller-manager, scheduler, containerd, kubelet, kube-proxy)", converge: time.Since(start)})

	code := 1
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: setting up:", err)
	} else {
		code = m.Run()
	}
	printReport()
	if code != 0 {
		dir := filepath.Join(testenv.RepoRoot(), "bin", "e2e-logs")
		_ = os.RemoveAll(dir)
		if err := localcluster.SaveLogs(dir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: saving the logs:", err)
		}
		fmt.Fprintln(os.Stderr, "e2e: the cluster's and the pods' logs are in", dir)
	}
	if os.Getenv("INGRESSE_E2E_KEEP_CLUSTER") != "" {
		fmt.Println("e2e: INGRESSE_E2E_KEEP_CLUSTER is set: the cluster stays up (make cluster-down)")
		return code
	}
	if err := localcluster.Down(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return code
}

// setup installs the operator as `make deploy-local` does, builds the
// clients and loads the consumer workload's image.
func setup() error {
	start := time.Now()
	var err error
	if deployOutput, receiverURL, token, err = deployLocal("kustomize"); err != nil {
		return err
	}
	addRow(row{what: "make deploy-local: image built and loaded, install applied, both Deployments rolled out", converge: time.Since(start)})

	cfg, err := clientcmd.BuildConfigFromFlags("", localcluster.Kubeconfig())
	if err != nil {
		return err
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: testenv.Scheme}); err != nil {
		return err
	}
	if clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	bin, err := localcluster.BinariesDir()
	if err != nil {
		return err
	}
	kubectlBin = filepath.Join(bin, "kubectl")
	return loadConsumerImage(filepath.Join(bin, "kubectl"))
}

// deployLocal runs `make deploy-local`'s installer, installing with
// install (kustomize or helm, its INSTALL), and returns what it printed and
// the receiver's URL and token read from it.
func deployLocal(install string) (output, url, tok string, err error) {
	var out, stderr bytes.Buffer
	// hack/ is the tools' module.
	cmd := exec.CommandContext(ctx, "go", "run", "./dev", "--cluster", "--install="+install)
	cmd.Dir = filepath.Join(testenv.RepoRoot(), "hack")
	cmd.Stdout = io.MultiWriter(os.Stdout, &out)
	cmd.Stderr = io.MultiWriter(os.Stderr, &stderr)
	if err := cmd.Run(); err != nil {
		return "", "", "", fmt.Errorf("make deploy-local INSTALL=%s (go run ./hack/dev --cluster --install=%s): %w: %s",
			install, install, err, bytes.TrimSpace(stderr.Bytes()))
	}
	output = out.String()
	url, tok = printed(output, `Receiver:\s+POST (\S+)`), printed(output, `Token:\s+(\S+)`)
	if url == "" || tok == "" {
		return "", "", "", fmt.Errorf("make deploy-local INSTALL=%s printed no receiver URL or token:\n%s", install, output)
	}
	return output, url, tok, nil
}

// printed returns the first group of re in what deploy-local printed.
func printed(output, re string) string {
	if m := regexp.MustCompile(re).FindStringSubmatch(output); m != nil {
		return m[1]
	}
	return ""
}

// loadConsumerImage builds test/e2e/consumer and puts it, with kubectl,
// into an image the cluster can run.
func loadConsumerImage(kubectl string) error {
	dir, err := os.MkdirTemp("", "e2e-consumer-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	consumer := filepath.Join(dir, "consumer")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", consumer, "./consumer")
	build.Dir = filepath.Join(testenv.RepoRoot(), "test", "e2e")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the consumer: %w: %s", err, b)
	}
	img, err := imagebuild.Build([]imagebuild.File{
		{Path: "/consumer", Src: consumer, Mode: 0o755},
		{Path: "/kubectl", Src: kubectl, Mode: 0o755},
	}, imagebuild.Config{User: "65532:65532", Entrypoint: []string{"/consumer"}, Env: []string{"HOME=/tmp"}})
	if err != nil {
		return err
	}
	tar := filepath.Join(dir, "consumer.tar")
	if err := imagebuild.WriteTarball(tar, consumerImage, img); err != nil {
		return err
	}
	return localcluster.Load(ctx, io.Discard, tar)
}

// kubectl runs kubectl as the cluster's administrator and returns its
// output.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, kubectlBin, append([]string{"--kubeconfig", localcluster.Kubeconfig()}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// eventually polls check every interval until it returns nil or timeout
// passes, and fails the test with the last error then.
func eventually(t *testing.T, what string, timeout time.Duration, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < timeout {
		if last = check(); last == nil {
			return time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not after %s: %v", what, timeout, last)
	return 0
}
