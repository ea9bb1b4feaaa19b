// Package config_test proves the install manifests under config/ against a
// real kube-apiserver: they render with kustomize, the API server accepts
// every object (server-side dry-run), and the operator's pods meet the
// restricted Pod Security Standard.
package config_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/hack/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Run(m, &env) }

const installNamespace = "ingresse-system"

// render builds a kustomization under config/ the way `make build-installer`
// does.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(testenv.RepoRoot(), "config", dir))
	if err != nil {
		t.Fatalf("kustomize build config/%s: %v", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, res := range resMap.Resources() {
		// Through JSON, so that numbers are the int64 and float64 that
		// unstructured objects hold.
		b, err := res.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	return objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func TestDefaultInstallRenders(t *testing.T) {
	objs := render(t, "default")
	want := map[string][]string{
		"Namespace":                {installNamespace},
		"CustomResourceDefinition": {"ingresseevents.events.ingresse.com"},
		"ServiceAccount":           {"ingresse-controller", "ingresse-receiver"},
		"Role":                     {"ingresse-controller-role", "ingresse-receiver-role"},
		"RoleBinding":              {"ingresse-controller-rolebinding", "ingresse-receiver-rolebinding"},
		"Deployment":               {"ingresse-controller", "ingresse-receiver"},
		"Service":                  {"ingresse-receiver", "ingresse-metrics"},
		"PodDisruptionBudget":      {"ingresse-controller", "ingresse-receiver"},
		"NetworkPolicy":            {"ingresse-allow-webhooks-and-metrics"},
	}
	for kind, names := range want {
		for _, name := range names {
			if find(objs, kind, name) == nil {
				t.Errorf("config/default renders no %s %s", kind, name)
			}
		}
	}
	for _, o := range objs {
		if o.GetKind() != "Namespace" && o.GetKind() != "CustomResourceDefinition" && o.GetNamespace() != installNamespace {
			t.Errorf("%s %s is in namespace %q, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), installNamespace)
		}
	}

	receiver := deployment(t, find(objs, "Deployment", "ingresse-receiver"))
	controller := deployment(t, find(objs, "Deployment", "ingresse-controller"))
	if *receiver.Spec.Replicas != 2 {
		t.Errorf("receiver replicas = %d, want 2 (active-active)", *receiver.Spec.Replicas)
	}
	receiverArgs := receiver.Spec.Template.Spec.Containers[0].Args
	for _, arg := range []string{"--enable-controller=false", "--leader-elect=false", "--receiver-token-file=/etc/ingresse-receiver/tokens"} {
		if !slices.Contains(receiverArgs, arg) {
			t.Errorf("receiver args %v lack %s", receiverArgs, arg)
		}
	}
	controllerArgs := controller.Spec.Template.Spec.Containers[0].Args
	for _, arg := range []string{"--enable-receiver=false", "--leader-elect"} {
		if !slices.Contains(controllerArgs, arg) {
			t.Errorf("controller args %v lack %s", controllerArgs, arg)
		}
	}
	if vols := receiver.Spec.Template.Spec.Volumes; len(vols) != 1 || vols[0].Secret == nil || vols[0].Secret.SecretName != "ingresse-receiver-token" {
		t.Errorf("the receiver must mount the Secret ingresse-receiver-token that the README tells you to create, got %+v", vols)
	}
	if receiver.Spec.Template.Spec.ServiceAccountName != "ingresse-receiver" || controller.Spec.Template.Spec.ServiceAccountName != "ingresse-controller" {
		t.Errorf("each component must run as its own ServiceAccount")
	}
	for _, d := range []*appsv1.Deployment{receiver, controller} {
		c := d.Spec.Template.Spec.Containers[0]
		if c.LivenessProbe == nil || c.ReadinessProbe == nil {
			t.Errorf("%s: probes missing", d.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: resource requests and a memory limit are required", d.Name)
		}
	}
}

func deployment(t *testing.T, u *unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	if u == nil {
		t.Fatal("deployment missing")
	}
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// TestInstallAcceptedByAPIServer applies every rendered object with
// server-side dry-run, in a namespace that enforces the restricted Pod
// Security Standard, and creates the Deployments' pods the same way so
// that Pod Security admission judges them.
func TestInstallAcceptedByAPIServer(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []string{"default", "ingress"} {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			ns := find(objs, "Namespace", installNamespace)
			if ns == nil {
				t.Fatal("no namespace rendered")
			}
			if got := ns.GetLabels()["pod-security.kubernetes.io/enforce"]; got != "restricted" {
				t.Fatalf("namespace enforces %q, want restricted", got)
			}
			// The namespace must exist for dry-run of what goes into it.
			if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(ns.DeepCopy()),
				client.FieldOwner("deploy-test"), client.ForceOwnership); err != nil {
				t.Fatalf("applying the namespace: %v", err)
			}
			for _, o := range objs {
				err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
					client.FieldOwner("deploy-test"), client.ForceOwnership, client.DryRunAll)
				if err != nil {
					t.Errorf("server-side dry-run of %s %s rejected: %v", o.GetKind(), o.GetName(), err)
				}
			}
			for _, name := range []string{"ingresse-receiver", "ingresse-controller"} {
				d := deployment(t, find(objs, "Deployment", name))
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-", Namespace: installNamespace, Labels: d.Spec.Template.Labels},
					Spec:       d.Spec.Template.Spec,
				}
				if err := env.Client.Create(ctx, pod, client.DryRunAll); err != nil {
					t.Errorf("a %s pod is not admitted under the restricted Pod Security Standard: %v", name, err)
				}
			}
		})
	}

	t.Run("the namespace really enforces restricted", func(t *testing.T) {
		privileged := true
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "privileged-", Namespace: installNamespace},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "c", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
			}}},
		}
		err := env.Client.Create(ctx, pod, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Fatalf("a privileged pod was not refused by Pod Security admission: %v", err)
		}
	})
}

// TestSampleIsTheSeedEvent applies config/samples and checks that it is
// Ingresse's event-create example, stored whole.
func TestSampleIsTheSeedEvent(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "events_v1alpha1_ingresseevent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sample := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &sample.Object); err != nil {
		t.Fatal(err)
	}
	sample.SetNamespace(ns)
	if err := env.Client.Create(ctx, sample); err != nil {
		t.Fatalf("the sample is not accepted: %v", err)
	}
	var stored eventsv1alpha1.IngresseEvent
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "event-21447"}, &stored); err != nil {
		t.Fatal(err)
	}
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(examples.EventCreate, &envelope); err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(stored.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if ok, where := testenv.JSONEqual(envelope.Data, spec); !ok {
		t.Fatalf("the sample differs from Ingresse's example at %s", where)
	}
}
