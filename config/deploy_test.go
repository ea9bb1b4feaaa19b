// Package config_test proves the install manifests under config/ against a
// real kube-apiserver: they render with kustomize, the API server accepts
// every object (server-side dry-run), and the operator's pods meet the
// restricted Pod Security Standard.
package config_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Run(m, &env) }

const installNamespace = "ingresse-system"

// render builds a kustomization under config/ the way `make build-installer`
// does.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	return kustomizeBuild(t, filesys.MakeFsOnDisk(), filepath.Join(testenv.RepoRoot(), "config", dir))
}

// kustomizeBuild builds the kustomization in dir of fs.
func kustomizeBuild(t *testing.T, fs filesys.FileSystem, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(fs, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
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
		"NetworkPolicy":            {"ingresse-receiver", "ingresse-controller"},
		"ClusterRole":              {"ingresse-metrics-auth-role", "ingresse-metrics-reader"},
		"ClusterRoleBinding":       {"ingresse-metrics-auth-rolebinding"},
	}
	for kind, names := range want {
		for _, name := range names {
			if find(objs, kind, name) == nil {
				t.Errorf("config/default renders no %s %s", kind, name)
			}
		}
	}
	clusterScoped := []string{"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "FlowSchema", "PriorityLevelConfiguration"}
	for _, o := range objs {
		if !slices.Contains(clusterScoped, o.GetKind()) && o.GetNamespace() != installNamespace {
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
		t.Errorf("the receiver must mount the Secret ingresse-receiver-token that the install instructions tell you to create, got %+v", vols)
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
		// Metrics over HTTPS, behind the API server's authentication and
		// authorization (the --metrics-secure default).
		if !slices.Contains(c.Args, "--metrics-bind-address=:8443") || slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--metrics-secure") }) {
			t.Errorf("%s: metrics must be served securely on :8443, args %v", d.Name, c.Args)
		}
		checkMemoryLimit(t, d.Name, c)
		if spread := d.Spec.Template.Spec.TopologySpreadConstraints; len(spread) == 0 || spread[0].TopologyKey != "kubernetes.io/hostname" {
			t.Errorf("%s: replicas are not spread across nodes", d.Name)
		}
		checkImage(t, d.Name, c.Image)
	}
}

// checkMemoryLimit: GOMEMLIMIT leaves the Go runtime about a tenth of the
// container's memory limit as headroom.
func checkMemoryLimit(t *testing.T, name string, c corev1.Container) {
	t.Helper()
	var goMemLimit string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			goMemLimit = e.Value
		}
	}
	q, err := resource.ParseQuantity(strings.TrimSuffix(goMemLimit, "B"))
	if err != nil {
		t.Errorf("%s: GOMEMLIMIT %q is not a quantity: %v", name, goMemLimit, err)
		return
	}
	ratio := float64(q.Value()) / float64(c.Resources.Limits.Memory().Value())
	if ratio < 0.85 || ratio > 0.92 {
		t.Errorf("%s: GOMEMLIMIT %s is %.0f%% of the memory limit %s, want about 90%%", name, goMemLimit, 100*ratio, c.Resources.Limits.Memory())
	}
}

// checkImage: the image is fully qualified (a registry host, a repository,
// a tag or digest) and is what the Makefile's IMG names by default.
func checkImage(t *testing.T, name, image string) {
	t.Helper()
	host, _, _ := strings.Cut(image, "/")
	if !strings.Contains(host, ".") || (!strings.Contains(image, "@sha256:") && !strings.Contains(image[strings.LastIndex(image, "/"):], ":")) {
		t.Errorf("%s: image %q is not fully qualified (registry/repository:tag or @digest)", name, image)
	}
	makefile, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(makefile), "\nIMG ?= "+image+"\n") {
		t.Errorf("%s: image %q is not the Makefile's default IMG", name, image)
	}
}

// TestNetworkPolicy: deliveries reach the receiver only from the Ingress
// controller's namespace and metrics only from the monitoring namespace
// (each a namespace selector docs/operations.md says how to patch); both
// components may reach only the API server and DNS.
func TestNetworkPolicy(t *testing.T) {
	objs := render(t, "default")
	for _, tc := range []struct {
		name  string
		ports map[int32]string // port -> the namespace allowed to reach it
	}{
		{"ingresse-receiver", map[int32]string{8082: "ingress-nginx", 8443: "monitoring"}},
		{"ingresse-controller", map[int32]string{8443: "monitoring"}},
	} {
		u := find(objs, "NetworkPolicy", tc.name)
		if u == nil {
			t.Fatalf("no NetworkPolicy %s", tc.name)
		}
		var np networkingv1.NetworkPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &np); err != nil {
			t.Fatal(err)
		}
		component := strings.TrimPrefix(tc.name, "ingresse-")
		if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] != component {
			t.Errorf("%s selects %v", tc.name, np.Spec.PodSelector.MatchLabels)
		}
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			t.Errorf("%s: policy types %v, want Ingress and Egress", tc.name, np.Spec.PolicyTypes)
		}
		allowed := map[int32]string{}
		for _, rule := range np.Spec.Ingress {
			if len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil || rule.From[0].PodSelector != nil {
				t.Errorf("%s: an ingress rule is not limited to one namespace: %+v", tc.name, rule.From)
				continue
			}
			for _, p := range rule.Ports {
				allowed[p.Port.IntVal] = rule.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
			}
		}
		if fmt.Sprint(allowed) != fmt.Sprint(tc.ports) {
			t.Errorf("%s: ports open to namespaces %v, want %v", tc.name, allowed, tc.ports)
		}
		var egress []int32
		for _, rule := range np.Spec.Egress {
			for _, p := range rule.Ports {
				egress = append(egress, p.Port.IntVal)
			}
		}
		slices.Sort(egress)
		if fmt.Sprint(egress) != "[53 53 443 6443]" {
			t.Errorf("%s: egress to ports %v, want the API server (443, 6443) and DNS (53 UDP and TCP)", tc.name, egress)
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

// TestIngressDoesNotLogTheToken: the example Ingress turns ingress-nginx's
// access log off, since the token may travel in the query it logs.
func TestIngressDoesNotLogTheToken(t *testing.T) {
	ing := find(render(t, "ingress"), "Ingress", "ingresse-receiver")
	if ing == nil {
		t.Fatal("config/ingress renders no Ingress ingresse-receiver")
	}
	if got := ing.GetAnnotations()["nginx.ingress.kubernetes.io/enable-access-log"]; got != "false" {
		t.Errorf("nginx.ingress.kubernetes.io/enable-access-log = %q, want \"false\"", got)
	}
}

// TestSamplesKustomization: config/samples renders as kubebuilder lays it
// out, with the sample event.
func TestSamplesKustomization(t *testing.T) {
	if find(render(t, "samples"), "IngresseEvent", "event-21447") == nil {
		t.Error("config/samples renders no IngresseEvent event-21447")
	}
}

// TestIngresseAPIOverlay: the overlay that turns Ingresse's API on mounts
// the credentials Secret into both Deployments, points both at it, and
// gives the controller, which sweeps, a listing.
func TestIngresseAPIOverlay(t *testing.T) {
	objs := render(t, "overlays/ingresse-api")
	// The receiver faces the Internet: it holds the credentials only with
	// verified deliveries.
	receiver := deployment(t, find(objs, "Deployment", "ingresse-receiver")).Spec.Template.Spec
	if len(receiver.Volumes) != 1 || slices.ContainsFunc(receiver.Containers[0].Args, func(a string) bool { return strings.HasPrefix(a, "--ingresse-api") }) {
		t.Errorf("without verified deliveries the receiver got Ingresse's credentials: volumes %v, args %v", receiver.Volumes, receiver.Containers[0].Args)
	}
	verified := render(t, "overlays/ingresse-api-verified")
	if args := deployment(t, find(verified, "Deployment", "ingresse-receiver")).Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--receiver-verify-with-api") {
		t.Errorf("the verified overlay's receiver args %v lack --receiver-verify-with-api", args)
	}
	for _, tc := range []struct {
		objs []*unstructured.Unstructured
		name string
	}{{objs, "ingresse-controller"}, {verified, "ingresse-controller"}, {verified, "ingresse-receiver"}} {
		name := tc.name
		d := deployment(t, find(tc.objs, "Deployment", name))
		c := d.Spec.Template.Spec.Containers[0]
		if !slices.Contains(c.Args, "--ingresse-api-credentials-file=/etc/ingresse-api/credentials") {
			t.Errorf("%s args %v: no credentials file", name, c.Args)
		}
		mounted := false
		for _, m := range c.VolumeMounts {
			mounted = mounted || (m.Name == "ingresse-api" && m.MountPath == "/etc/ingresse-api" && m.ReadOnly)
		}
		secret := ""
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == "ingresse-api" && v.Secret != nil {
				secret = v.Secret.SecretName
			}
		}
		if !mounted || secret != "ingresse-api-credentials" {
			t.Errorf("%s: the Secret ingresse-api-credentials is not mounted read-only at /etc/ingresse-api (volume secret %q)", name, secret)
		}
		if name == "ingresse-receiver" && len(c.VolumeMounts) != 2 {
			t.Errorf("the receiver lost its token mount: %v", c.VolumeMounts)
		}
	}
	role, binding := find(objs, "Role", "ingresse-resync-role"), find(objs, "RoleBinding", "ingresse-resync-rolebinding")
	if role == nil || binding == nil || role.GetNamespace() != installNamespace {
		t.Fatalf("the overlay renders no Role and RoleBinding for the sweep in %s", installNamespace)
	}
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	verbs := map[string]bool{}
	for _, r := range rules {
		if strings.Contains(fmt.Sprint(r.(map[string]any)["resources"]), "ingresseevents") {
			for _, v := range r.(map[string]any)["verbs"].([]any) {
				verbs[v.(string)] = true
			}
		}
	}
	for _, v := range []string{"create", "update", "patch"} {
		if !verbs[v] {
			t.Errorf("the sweep's Role cannot %s ingresseevents: %v", v, rules)
		}
	}
	if verbs["delete"] {
		t.Errorf("the sweep's Role may delete ingresseevents: a sweep never deletes")
	}
	subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
	if len(subjects) != 1 || subjects[0].(map[string]any)["name"] != "ingresse-controller" {
		t.Errorf("the sweep's RoleBinding binds %v, want the controller's ServiceAccount only", subjects)
	}
	controller := deployment(t, find(objs, "Deployment", "ingresse-controller"))
	if !slices.Contains(controller.Spec.Template.Spec.Containers[0].Args, "--ingresse-company-id=1") {
		t.Errorf("the controller has no listing to sweep: %v", controller.Spec.Template.Spec.Containers[0].Args)
	}
}

// TestPrometheusMonitoring: config/prometheus scrapes the metrics Service's
// HTTPS port, and every alert is complete, well formed and has its runbook
// section in docs/alerts.md. (cmd's TestAlertsNameOnlyExportedMetrics
// checks the metric names against a running manager.)
func TestPrometheusMonitoring(t *testing.T) {
	objs := render(t, "prometheus")
	monitor, rule := find(objs, "ServiceMonitor", "metrics-monitor"), find(objs, "PrometheusRule", "alerts")
	if monitor == nil || rule == nil {
		t.Fatal("config/prometheus renders no ServiceMonitor metrics-monitor or PrometheusRule alerts")
	}
	svc := find(render(t, "default"), "Service", "ingresse-metrics")
	if svc == nil {
		t.Fatal("config/default renders no metrics Service")
	}
	selector, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
	for k, v := range selector {
		if svc.GetLabels()[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the metrics Service does not carry (%v)", k, v, svc.GetLabels())
		}
	}
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if len(endpoints) != 1 || endpoints[0].(map[string]any)["scheme"] != "https" ||
		endpoints[0].(map[string]any)["port"] != ports[0].(map[string]any)["name"] {
		t.Errorf("the ServiceMonitor's endpoint %v does not scrape the metrics Service's port %v over HTTPS", endpoints, ports)
	}

	alerts, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "alerts.md"))
	if err != nil {
		t.Fatal(err)
	}
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	seen := 0
	for _, g := range groups {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			r := r.(map[string]any)
			name, _ := r["alert"].(string)
			seen++
			annotations, _ := r["annotations"].(map[string]any)
			labels, _ := r["labels"].(map[string]any)
			if name == "" || r["for"] == nil || labels["severity"] == nil || annotations["summary"] == nil || annotations["description"] == nil {
				t.Errorf("alert %q lacks a name, for, severity, summary or description: %v", name, r)
			}
			if _, err := testenv.PromQLMetricNames(fmt.Sprint(r["expr"])); err != nil {
				t.Errorf("alert %s: %v", name, err)
			}
			url, _ := annotations["runbook_url"].(string)
			if !strings.HasSuffix(url, "docs/alerts.md#"+strings.ToLower(name)) || !strings.Contains(string(alerts), "\n## "+name+"\n") {
				t.Errorf("alert %s: runbook_url %q, or no \"## %s\" section in docs/alerts.md", name, url, name)
			}
		}
	}
	if seen < 7 {
		t.Errorf("%d alerts, want at least the 7 the monitoring issue lists", seen)
	}
	dashboard := find(objs, "ConfigMap", "dashboard")
	if dashboard == nil || dashboard.GetLabels()["grafana_dashboard"] != "1" {
		t.Fatal("config/prometheus renders no dashboard ConfigMap with the grafana_dashboard label")
	}
	data, _, _ := unstructured.NestedStringMap(dashboard.Object, "data")
	var parsed struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal([]byte(data["ingresse-operator.json"]), &parsed); err != nil || len(parsed.Panels) < 6 {
		t.Errorf("the dashboard is not JSON with its panels: %v (%d panels)", err, len(parsed.Panels))
	}
}
