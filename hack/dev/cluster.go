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

	"github.com/google/go-containerregistry/pkg/name"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ingresse-operator/ingresse-operator/hack/imagebuild"
	"github.com/ingresse-operator/ingresse-operator/hack/localcluster"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// What config/default installs, and the Secret it mounts.
const (
	installNamespace = "ingresse-system"
	tokenSecret      = "ingresse-receiver-token"
	receiverDeploy   = "ingresse-receiver"
	receiverService  = "ingresse-receiver"
	metricsService   = "ingresse-metrics"
)

// The two ways `make deploy-local` installs: dist/install.yaml (kustomize,
// the default) or the Helm chart in dist/chart (INSTALL=helm).
const (
	installKustomize = "kustomize"
	installHelm      = "helm"
	// helmRelease is the release name docs/helm.md installs with.
	helmRelease = "ingresse-operator"
)

// deployToCluster is `make deploy-local`: the operator's image built and
// loaded into the cluster of `make cluster-up`, installed with it (by
// dist/install.yaml or by the Helm chart), the receiver's token Secret
// created unless there is one, both Deployments rolled out; then the
// instructions, through the receiver's Service.
func deployToCluster(ctx context.Context, root, install string) error {
	if install != installKustomize && install != installHelm {
		return fmt.Errorf("--install=%q: want %s or %s", install, installKustomize, installHelm)
	}
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
	helm := filepath.Join(root, "bin", "helm")
	if install == installHelm {
		if _, err := os.Stat(helm); err != nil {
			return fmt.Errorf("bin/helm is missing: run `make helm` (make deploy-local INSTALL=helm does): %w", err)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		return err
	}
	if err := refuseOtherInstall(ctx, c, install); err != nil {
		return err
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
	// The policies' API server rule names this cluster's addresses, as
	// docs/operations.md tells installers to, rather than the private
	// ranges of the default.
	cidrs, err := apiServerCIDRs(ctx, c)
	if err != nil {
		return err
	}
	var token, how string
	if install == installHelm {
		// The chart leaves the namespace and the token Secret to the user
		// (docs/helm.md): the namespace as config/default makes it
		// (restricted), the Secret before the pods that mount it.
		fmt.Printf("Installing the Helm chart dist/chart with the image %s...\n", ref)
		if err := kubectl("apply", "--server-side", "-f", filepath.Join(root, "config", "default", "namespace.yaml")); err != nil {
			return err
		}
		if token, err = ensureToken(ctx, c); err != nil {
			return err
		}
		tag, err := name.NewTag(ref)
		if err != nil {
			return fmt.Errorf("image reference %q: %w", ref, err)
		}
		if err := runIn(ctx, root, helm, "upgrade", "--install", helmRelease, filepath.Join(root, "dist", "chart"),
			"--kubeconfig", kubeconfig, "--namespace", installNamespace, "--hide-notes",
			"--set", "image.repository="+tag.Context().Name(), "--set", "image.tag="+tag.TagStr(),
			"--set", helmCIDRs(cidrs)); err != nil {
			return err
		}
		how = "installed by the Helm chart (release " + helmRelease + ")"
	} else {
		fmt.Printf("Installing dist/install.yaml with the image %s...\n", ref)
		if err := runIn(ctx, root, "make", "--no-print-directory", "build-installer", "IMG="+ref); err != nil {
			return err
		}
		if err := kubectl("apply", "--server-side", "--force-conflicts", "-f", filepath.Join(root, "dist", "install.yaml")); err != nil {
			return err
		}
		patch, err := kustomizeCIDRsPatch(cidrs)
		if err != nil {
			return err
		}
		for _, np := range []string{"ingresse-receiver", "ingresse-controller"} {
			if err := kubectl("patch", "networkpolicy", np, "-n", installNamespace, "--type=json", "-p", patch); err != nil {
				return err
			}
		}
		if token, err = ensureToken(ctx, c); err != nil {
			return err
		}
		how = "installed by dist/install.yaml"
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
	facts := [][2]string{
		{"", "(the receiver Service; in production an Ingress routes here)"},
		{"Metrics:", "https://" + metricsIP + ":8443/metrics (with a token the ingresse-metrics-reader ClusterRole authorizes)"},
		{"Logs:", kubectlLine + " logs -n " + installNamespace + " deployment/ingresse-receiver"},
	}
	again := "make deploy-local"
	if install == installHelm {
		facts = append(facts, [2]string{"Release:", fmt.Sprintf("KUBECONFIG=%s %s status -n %s %s", kubeconfig, helm, installNamespace, helmRelease)})
		again = "make deploy-local INSTALL=helm"
	}
	instructions{
		intro: fmt.Sprintf("ingresse-operator is running in the cluster on this machine, %s: 2 receivers and 2 controllers in %s, image %s.",
			how, installNamespace, ref),
		receiverURL: "http://" + receiverIP + "/webhooks/ingresse",
		token:       token,
		facts:       facts,
		manager:     manager,
		kubectl:     kubectlLine,
		namespace:   installNamespace,
		stop:        "It runs until `make cluster-down`; `" + again + "` again rolls out a new build.",
	}.print(os.Stdout)
	return nil
}

// refuseOtherInstall fails when the operator is already installed in the
// namespace the other way: the chart cannot adopt dist/install.yaml's
// objects without the marks docs/helm.md describes, and applying
// dist/install.yaml over a release would leave Helm's record wrong.
func refuseOtherInstall(ctx context.Context, c client.Client, install string) error {
	var d appsv1.Deployment
	err := c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: receiverDeploy}, &d)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the Deployment %s/%s: %w", installNamespace, receiverDeploy, err)
	}
	byHelm := d.Labels["app.kubernetes.io/managed-by"] == "Helm"
	switch {
	case install == installHelm && !byHelm:
		return fmt.Errorf("dist/install.yaml's install is in %s: remove it first (kubectl delete -f dist/install.yaml) or start over (make cluster-down)", installNamespace)
	case install == installKustomize && byHelm:
		return fmt.Errorf("the Helm chart's install is in %s: remove it first (bin/helm uninstall -n %s %s) or start over (make cluster-down)",
			installNamespace, installNamespace, helmRelease)
	}
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
