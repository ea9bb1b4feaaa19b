//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/hack/localcluster"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// helmRelease is the release `make deploy-local INSTALL=helm` installs.
const helmRelease = "ingresse-operator"

// crd is the IngresseEvent CRD, by its metadata (the suite's scheme does
// not know apiextensions' types).
func crd() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "ingresseevents.events.ingresse.com"}}
	m.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	return m
}

// TestHelmChart runs last (its file sorts after e2e_test.go): it replaces
// the kustomize install with the Helm chart's, as `make deploy-local
// INSTALL=helm` installs it (which refuses to while the kustomize install
// is there), and proves that install in the real cluster too: the CRD
// comes from the chart's crds/, both Deployments pass TestInstall's checks
// under the restricted namespace, the printed curl line is answered 2xx
// through the receiver's Service and the event becomes Ready with its
// ConfigMap; then `helm uninstall` removes every object of the release and
// the operator's pods, and keeps the CRD and the events (Helm's convention
// for crds/). The cluster's own check at `down` proves the host clean
// afterwards.
func TestHelmChart(t *testing.T) {
	// Helm cannot adopt the kustomize install's objects: deploy-local says
	// so before it builds anything.
	t.Log("make deploy-local INSTALL=helm over the kustomize install, which it must refuse:")
	if _, _, _, err := deployLocal("helm"); err == nil || !strings.Contains(err.Error(), "dist/install.yaml's install is in "+ns) {
		t.Errorf("make deploy-local INSTALL=helm over the kustomize install: %v, want it refused", err)
	}

	start := time.Now()
	kubectl(t, "delete", "--wait", "--timeout=3m", "--ignore-not-found", "-f", filepath.Join(testenv.RepoRoot(), "dist", "install.yaml"))
	addRow(row{what: "dist/install.yaml's install deleted (`kubectl delete -f`: its namespace, CRD and every event)", converge: time.Since(start)})

	start = time.Now()
	output, _, _, err := deployLocal("helm")
	if err != nil {
		t.Fatal(err)
	}
	addRow(row{what: "make deploy-local INSTALL=helm: the chart installed with the local image (its CRD from crds/), both Deployments rolled out", converge: time.Since(start)})
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(crd()), crd()); err != nil {
		t.Fatalf("the chart did not install the CRD from crds/: %v", err)
	}
	for _, name := range []string{receiverDeployment, controllerDeploy} {
		var d appsv1.Deployment
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			t.Fatal(err)
		}
		if d.Annotations["meta.helm.sh/release-name"] != helmRelease {
			t.Errorf("the Deployment %s is not the release's: annotations %v", name, d.Annotations)
		}
	}
	checkInstalled(t)

	if out := runPrinted(t, output, "curl "); !strings.Contains(out, `"status":"created"`) {
		t.Fatalf("the printed curl line answered %s, want created", out)
	}
	ready := eventually(t, exampleEvent+" Ready, with its ConfigMap", time.Minute, func() error {
		var e eventsv1alpha1.IngresseEvent
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: exampleEvent}, &e); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(e.Status.Conditions, "Ready") {
			return fmt.Errorf("not Ready: %v", e.Status.Conditions)
		}
		var cm corev1.ConfigMap
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: exampleEvent}, &cm); err != nil {
			return err
		}
		if cm.Data["EVENT_TITLE"] != "Webhook Example" {
			return fmt.Errorf("EVENT_TITLE = %q", cm.Data["EVENT_TITLE"])
		}
		return nil
	})
	addRow(row{
		what:       "Ingresse's event-create example through the chart's receiver Service (the curl line deploy-local INSTALL=helm prints): Ready, with its ConfigMap",
		deliveries: 1, requests: 1, acked: 1, stored: 1, converge: ready,
	})

	objs := releaseObjects(t)
	start = time.Now()
	helm(t, "uninstall", helmRelease, "--wait", "--timeout=3m")
	for _, o := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(o), got); err == nil {
			t.Errorf("%s %s/%s is still there after helm uninstall", o.GetKind(), o.GetNamespace(), o.GetName())
		} else if !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	}
	var releases corev1.SecretList
	if err := k8s.List(ctx, &releases, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "name": helmRelease}); err != nil {
		t.Fatal(err)
	}
	if len(releases.Items) != 0 {
		t.Errorf("helm uninstall left %d release Secrets", len(releases.Items))
	}
	eventually(t, "the operator's pods gone", 2*time.Minute, func() error {
		var list corev1.PodList
		if err := k8s.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/name": "ingresse-operator"}); err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d pods left, %s first", len(list.Items), list.Items[0].Name)
		}
		return nil
	})
	took := time.Since(start)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(crd()), crd()); err != nil {
		t.Errorf("helm uninstall removed the CRD, which crds/ installs and Helm keeps: %v", err)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: exampleEvent}, &eventsv1alpha1.IngresseEvent{}); err != nil {
		t.Errorf("the event did not outlive helm uninstall: %v", err)
	}
	addRow(row{what: fmt.Sprintf("helm uninstall: the release's %d objects and the operator's pods gone; the CRD (crds/) and the event kept", len(objs)), converge: took})
}

// releaseObjects returns the objects of the release's manifest (`helm get
// manifest`), failing if the two Deployments are not among them.
func releaseObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(helm(t, "get", "manifest", helmRelease)), 4096)
	var objs []*unstructured.Unstructured
	deployments := 0
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading the release's manifest: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == "Deployment" {
			deployments++
		}
		objs = append(objs, u)
	}
	if deployments != 2 {
		t.Fatalf("the release's manifest holds %d Deployments of %d objects, want 2", deployments, len(objs))
	}
	return objs
}

// helm runs bin/helm on the release's namespace as the cluster's
// administrator and returns its output.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := filepath.Join(testenv.RepoRoot(), "bin", "helm")
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", localcluster.Kubeconfig(), "--namespace", ns}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}
