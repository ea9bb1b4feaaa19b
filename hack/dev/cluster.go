package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ingresse-operator/ingresse-operator/hack/imagebuild"
	"github.com/ingresse-operator/ingresse-operator/hack/localcluster"
	"github.com/ingresse-operator/ingresse-operator/hack/testenv"
)

// What config/default installs, and the Secret it mounts.
const (
	installNamespace = "ingresse-system"
	tokenSecret      = "ingresse-receiver-token"
	receiverService  = "ingresse-receiver"
	metricsService   = "ingresse-metrics"
)

// deployToCluster is `make deploy-local`: the operator's image built and
// loaded into the cluster of `make cluster-up`, dist/install.yaml built
// with it and applied, the receiver's token Secret created unless there is
// one, both Deployments rolled out; then the instructions, through the
// receiver's Service.
func deployToCluster(ctx context.Context, root string) error {
	if !localcluster.IsUp() {
		return errors.New("the cluster is not up: run `make cluster-up` (make deploy-local does)")
	}
	bin, err := localcluster.BinariesDir()
	if err != nil {
		return err
	}
	kubeconfig := localcluster.Kubeconfig()
	kubectl := func(args ...string) error {
		return runIn(ctx, root, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	}

	fmt.Println("Building the operator's image (make image) and loading it into the cluster...")
	tar := filepath.Join(root, "bin", "image", "ingresse-operator.tar")
	ref, err := imagebuild.WriteOperator(ctx, root, "ingresse.local/ingresse-operator:dev", tar, true)
	if err != nil {
		return err
	}
	if err := localcluster.Load(ctx, io.Discard, tar); err != nil {
		return err
	}
	fmt.Printf("Installing dist/install.yaml with the image %s...\n", ref)
	if err := runIn(ctx, root, "make", "--no-print-directory", "build-installer", "IMG="+ref); err != nil {
		return err
	}
	if err := kubectl("apply", "--server-side", "--force-conflicts", "-f", filepath.Join(root, "dist", "install.yaml")); err != nil {
		return err
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		return err
	}
	token, err := ensureToken(ctx, c)
	if err != nil {
		return err
	}
	fmt.Println("Waiting for the receiver and the controller to roll out...")
	if err := kubectl("rollout", "status", "-n", installNamespace, "--timeout=3m",
		"deployment/ingresse-receiver", "deployment/ingresse-controller"); err != nil {
		return err
	}
	receiverIP, err := clusterIP(ctx, c, receiverService)
	if err != nil {
		return err
	}
	metricsIP, err := clusterIP(ctx, c, metricsService)
	if err != nil {
		return err
	}
	manager := filepath.Join(root, "bin", "manager")
	if err := runIn(ctx, root, "make", "--no-print-directory", "build"); err != nil {
		return err
	}
	kubectlLine := fmt.Sprintf("KUBECONFIG=%s %s", kubeconfig, filepath.Join(bin, "kubectl"))
	instructions{
		intro: fmt.Sprintf("ingresse-operator is running in the cluster on this machine: 2 receivers and 2 controllers in %s, image %s.",
			installNamespace, ref),
		receiverURL: "http://" + receiverIP + "/webhooks/ingresse",
		token:       token,
		facts: [][2]string{
			{"", "(the receiver Service; in production an Ingress routes here)"},
			{"Metrics:", "https://" + metricsIP + ":8443/metrics (with a token the ingresse-metrics-reader ClusterRole authorizes)"},
			{"Logs:", kubectlLine + " logs -n " + installNamespace + " deployment/ingresse-receiver"},
		},
		manager:   manager,
		kubectl:   kubectlLine,
		namespace: installNamespace,
		stop:      "It runs until `make cluster-down`; `make deploy-local` again rolls out a new build.",
	}.print(os.Stdout)
	return nil
}

// ensureToken returns the receiver's token: the first one in the Secret
// config/default mounts, which it creates with a new token if it is not
// there.
func ensureToken(ctx context.Context, c client.Client) (string, error) {
	var secret corev1.Secret
	err := c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: tokenSecret}, &secret)
	if err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(secret.Data["tokens"])))
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				return l, nil
			}
		}
		return "", fmt.Errorf("the Secret %s/%s holds no token", installNamespace, tokenSecret)
	}
	if !apierrors.IsNotFound(err) {
		return "", err
	}
	token, err := newToken()
	if err != nil {
		return "", err
	}
	secret = corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: installNamespace, Name: tokenSecret},
		StringData: map[string]string{"tokens": token + "\n"},
	}
	if err := c.Create(ctx, &secret); err != nil {
		return "", fmt.Errorf("creating the token Secret: %w", err)
	}
	return token, nil
}

func clusterIP(ctx context.Context, c client.Client, service string) (string, error) {
	var svc corev1.Service
	if err := c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: service}, &svc); err != nil {
		return "", fmt.Errorf("reading the Service %s/%s: %w", installNamespace, service, err)
	}
	return svc.Spec.ClusterIP, nil
}

// runIn runs a command in dir, its output going to ours.
func runIn(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}
