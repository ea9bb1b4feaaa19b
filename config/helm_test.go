package config_test

// The Helm chart in dist/chart against the kustomize install: rendered by
// the real helm (bin/helm, `make helm`), its default render is the
// install's object for object, each option renders what the matching
// overlay or component of config/ does, every object is accepted by the API
// server under the restricted Pod Security Standard, and every flag a user
// tunes reaches the binary.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

const (
	chartRelease = "ingresse-operator"
	// allOnValues turns every option of the chart on at once.
	allOnValues = "ci/all-on-values.yaml"
	// allOnNamespace is where the all-on render goes: not ingresse-system,
	// so that a name or namespace written into a template shows.
	allOnNamespace = "helm-all-on"
)

func chartDir() string { return filepath.Join(testenv.RepoRoot(), "dist", "chart") }

// runHelm runs bin/helm, with its cache and configuration in a temporary
// directory, and returns its standard output.
func runHelm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin := filepath.Join(testenv.RepoRoot(), "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("bin/helm is missing: run `make helm` (make test builds it first): %v", err)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// helmTemplate renders the chart into namespace, CRDs included, with extra
// helm arguments (--set, --values, --api-versions).
func helmTemplate(t *testing.T, namespace string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", chartRelease, chartDir(), "--namespace", namespace, "--include-crds"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeYAMLStream(t, out)
}

// decodeYAMLStream decodes a multi-document YAML stream, through JSON as
// render does, so that both sides of a comparison hold the same types.
func decodeYAMLStream(t *testing.T, stream []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("reading helm's output: %v", err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("helm's output is not YAML: %v\n%s", err, doc)
		}
		if s := string(bytes.TrimSpace(j)); s == "null" || s == "{}" {
			continue // a document of comments only
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatalf("helm rendered a document that is not an object: %v\n%s", err, doc)
		}
		objs = append(objs, u)
	}
}

// renderOverlay builds a kustomization that the repository does not hold,
// as config/overlays/chart-test of an in-memory copy of config/; edit, when
// set, changes that copy first.
func renderOverlay(t *testing.T, kustomization string, edit func(fs filesys.FileSystem)) []*unstructured.Unstructured {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	root := filepath.Join(testenv.RepoRoot(), "config")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile(filepath.Join("/config", strings.TrimPrefix(path, root)), b)
	})
	if err != nil {
		t.Fatalf("copying config/: %v", err)
	}
	if edit != nil {
		edit(mem)
	}
	if err := mem.WriteFile("/config/overlays/chart-test/kustomization.yaml", []byte(kustomization)); err != nil {
		t.Fatal(err)
	}
	return kustomizeBuild(t, mem, "/config/overlays/chart-test")
}

// helmLabels are what Helm's conventions add to each object's labels: the
// release, the chart and its version. dist/install.yaml has no release, so
// the comparison leaves them out (only from metadata.labels: a selector or
// pod template that carried them would still differ).
var helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version"}

const partOf = "app.kubernetes.io/part-of"

func objectKey(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// compareWithKustomize checks that the chart rendered the objects
// kustomize did, and only those, each equal member for member, except:
//   - the Namespace: Helm stores a release in its namespace before it
//     creates anything, so the namespace exists before `helm install`
//     (docs/helm.md), and a chart that rendered it would fail to install;
//   - Helm's labels (helmLabels);
//   - app.kubernetes.io/part-of on the CRD: crds/ is controller-gen's file
//     as is (Helm never templates it), and kustomize's labels transformer
//     adds it;
//   - with anyPartOf, app.kubernetes.io/part-of on every object: the
//     overlays and components add their objects outside config/default's
//     labels transformer, so kustomize labels some and not others, where
//     the chart labels all (the default render still checks it).
func compareWithKustomize(t *testing.T, chart, kustomized []*unstructured.Unstructured, anyPartOf bool) {
	t.Helper()
	normalise := func(u *unstructured.Unstructured) *unstructured.Unstructured {
		u = u.DeepCopy()
		labels := u.GetLabels()
		for _, l := range helmLabels {
			delete(labels, l)
		}
		if anyPartOf || u.GetKind() == "CustomResourceDefinition" {
			delete(labels, partOf)
		}
		if len(labels) == 0 {
			unstructured.RemoveNestedField(u.Object, "metadata", "labels")
		} else {
			u.SetLabels(labels)
		}
		return u
	}
	got := map[string]*unstructured.Unstructured{}
	for _, u := range chart {
		if _, dup := got[objectKey(u)]; dup {
			t.Errorf("the chart renders %s twice", objectKey(u))
		}
		got[objectKey(u)] = normalise(u)
	}
	for _, w := range kustomized {
		key := objectKey(w)
		g, ok := got[key]
		delete(got, key)
		switch {
		case w.GetKind() == "Namespace" && !ok:
			continue
		case !ok:
			t.Errorf("the chart renders no %s", key)
			continue
		}
		gj, err := json.Marshal(g.Object)
		if err != nil {
			t.Fatal(err)
		}
		wj, err := json.Marshal(normalise(w).Object)
		if err != nil {
			t.Fatal(err)
		}
		if ok, where := testenv.JSONEqual(gj, wj); !ok {
			t.Errorf("%s differs from kustomize's at %s (first: the chart's)\nchart:     %s\nkustomize: %s", key, where, gj, wj)
		}
	}
	for key := range got {
		t.Errorf("the chart renders %s, which kustomize does not", key)
	}
}

// TestHelmChartIsTheKustomizeInstall: with default values the chart
// renders what `make build-installer` writes into dist/install.yaml
// (config/default with the default IMG, which is config/manager's image:
// TestDefaultInstallRenders checks that), and each option renders what the
// overlay or component of config/ for it does. A flag, port, rule or label
// changed on one side only fails here.
func TestHelmChartIsTheKustomizeInstall(t *testing.T) {
	monitoringOn := func(fs filesys.FileSystem) {
		const path = "/config/default/kustomization.yaml"
		b, err := fs.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("\n#- ../prometheus\n")) {
			t.Fatal("config/default/kustomization.yaml has no commented `#- ../prometheus` line, which docs/operations.md says to uncomment")
		}
		if err := fs.WriteFile(path, bytes.Replace(b, []byte("\n#- ../prometheus\n"), []byte("\n- ../prometheus\n"), 1)); err != nil {
			t.Fatal(err)
		}
	}
	withMonitoring := func(t *testing.T) []*unstructured.Unstructured {
		return renderOverlay(t, "resources:\n- ../../default\n", monitoringOn)
	}
	def := func(t *testing.T) []*unstructured.Unstructured { return render(t, "default") }
	setAll := func(value string) []string {
		return []string{"--set", "monitoring.serviceMonitor.enabled=" + value, "--set", "monitoring.prometheusRule.enabled=" + value,
			"--set", "monitoring.dashboard.enabled=" + value}
	}
	for _, tc := range []struct {
		name string
		args []string
		want func(t *testing.T) []*unstructured.Unstructured
	}{
		{"default values, dist/install.yaml", nil, def},
		{"ingress, config/ingress", []string{"--set", "ingress.enabled=true", "--set", "ingress.host=ingresse-webhooks.example.com"},
			func(t *testing.T) []*unstructured.Unstructured { return render(t, "ingress") }},
		{"ingresseAPI, config/overlays/ingresse-api", []string{"--set", "ingresseAPI.enabled=true", "--set", "ingresseAPI.companyID=1"},
			func(t *testing.T) []*unstructured.Unstructured { return render(t, "overlays/ingresse-api") }},
		{"verified deliveries, config/overlays/ingresse-api-verified",
			[]string{"--set", "ingresseAPI.enabled=true", "--set", "ingresseAPI.companyID=1", "--set", "ingresseAPI.verifyDeliveries=true"},
			func(t *testing.T) []*unstructured.Unstructured { return render(t, "overlays/ingresse-api-verified") }},
		{"retention, config/components/retention", []string{"--set", "retention.enabled=true", "--set", "retention.after=2160h"},
			func(t *testing.T) []*unstructured.Unstructured {
				// As the component's kustomization.yaml says to use it.
				return renderOverlay(t, `resources:
- ../../default
components:
- ../../components/retention
patches:
- target: {kind: Deployment, name: ingresse-controller}
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/args/-
      value: --retention-after=2160h
`, nil)
			}},
		{"monitoring, config/default with ../prometheus", setAll("true"), withMonitoring},
		{"monitoring auto, where the Prometheus Operator is", append(setAll("auto"), "--api-versions", "monitoring.coreos.com/v1"), withMonitoring},
		{"monitoring auto, where it is not", setAll("auto"), def},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compareWithKustomize(t, helmTemplate(t, installNamespace, tc.args...), tc.want(t), len(tc.args) > 0)
		})
	}

	t.Run("networkPolicy and podDisruptionBudget off", func(t *testing.T) {
		for _, o := range helmTemplate(t, installNamespace, "--set", "networkPolicy.enabled=false", "--set", "podDisruptionBudget.enabled=false") {
			if o.GetKind() == "NetworkPolicy" || o.GetKind() == "PodDisruptionBudget" {
				t.Errorf("turned off, the chart still renders %s", objectKey(o))
			}
		}
	})
}

// ensureNamespace applies a namespace that enforces the restricted Pod
// Security Standard, as config/default's does.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "labels": map[string]any{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		}},
	}}
	if err := env.Client.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(ns),
		client.FieldOwner("helm-test"), client.ForceOwnership); err != nil {
		t.Fatalf("applying the namespace %s: %v", name, err)
	}
}

// installPrometheusOperatorCRDs installs the two CRDs of the Prometheus
// Operator the chart renders objects of, reduced to their names and an
// open schema: enough for the API server to take a dry-run of them, and
// for Capabilities to report monitoring.coreos.com/v1. (Their real schemas
// would also check fields; the chart's objects are config/prometheus's,
// which TestPrometheusMonitoring checks.)
func installPrometheusOperatorCRDs(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		plural := strings.ToLower(kind) + "s"
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": plural + ".monitoring.coreos.com"},
			"spec": map[string]any{
				"group": "monitoring.coreos.com", "scope": "Namespaced",
				"names": map[string]any{"kind": kind, "listKind": kind + "List", "plural": plural, "singular": strings.ToLower(kind)},
				"versions": []any{map[string]any{
					"name": "v1", "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type": "object", "x-kubernetes-preserve-unknown-fields": true,
					}},
				}},
			},
		}}
		if err := env.Client.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("installing the %s CRD: %v", kind, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
				t.Fatal(err)
			}
			conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			if slices.ContainsFunc(conditions, func(c any) bool {
				m, _ := c.(map[string]any)
				return m["type"] == "Established" && m["status"] == "True"
			}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the %s CRD is not established after 30s", kind)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestHelmChartAcceptedByAPIServer applies every object the chart renders,
// with default values and with every option on, with server-side dry-run,
// into a namespace that enforces the restricted Pod Security Standard, and
// creates each Deployment's pod the same way so that Pod Security admission
// judges it.
func TestHelmChartAcceptedByAPIServer(t *testing.T) {
	ctx := context.Background()
	installPrometheusOperatorCRDs(t)
	// The all-on values give the pods a priority class, which must exist.
	pc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
		"metadata": map[string]any{"name": "ingresse-ci"}, "value": int64(1000),
	}}
	if err := env.Client.Create(ctx, pc); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// A client made now knows the Prometheus Operator's kinds.
	c, err := client.New(env.Config, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, namespace string
		args            []string
		wantKinds       []string
	}{
		{"default values", installNamespace, nil, nil},
		{"every option on", allOnNamespace,
			[]string{"--values", filepath.Join(chartDir(), allOnValues), "--api-versions", "monitoring.coreos.com/v1"},
			[]string{"Ingress", "Secret", "ServiceMonitor", "PrometheusRule", "ConfigMap", "ClusterRoleBinding"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ensureNamespace(t, tc.namespace)
			objs := helmTemplate(t, tc.namespace, tc.args...)
			for _, kind := range tc.wantKinds {
				if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind }) {
					t.Errorf("the render has no %s", kind)
				}
			}
			deployments := 0
			for _, o := range objs {
				if o.GetNamespace() != "" && o.GetNamespace() != tc.namespace {
					t.Errorf("%s is not in the release namespace %s", objectKey(o), tc.namespace)
				}
				err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
					client.FieldOwner("helm-test"), client.ForceOwnership, client.DryRunAll)
				if err != nil {
					t.Errorf("server-side dry-run of %s rejected: %v", objectKey(o), err)
				}
				if o.GetKind() != "Deployment" {
					continue
				}
				deployments++
				d := deployment(t, o)
				checkMemoryLimit(t, d.Name, d.Spec.Template.Spec.Containers[0])
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{GenerateName: d.Name + "-", Namespace: tc.namespace, Labels: d.Spec.Template.Labels},
					Spec:       d.Spec.Template.Spec,
				}
				if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
					t.Errorf("a %s pod is not admitted under the restricted Pod Security Standard: %v", d.Name, err)
				}
			}
			if deployments != 2 {
				t.Errorf("%d Deployments rendered, want the receiver's and the controller's", deployments)
			}
		})
	}
}

// notExposed are the manager's flags the chart sets itself or leaves out on
// purpose; every other flag of docs/operations.md's table (which cmd's
// TestFlagTableIsTheBinarys keeps equal to the binary's) must be reachable
// from the values.
var notExposed = map[string]string{
	"kubeconfig":                  "in a pod, the in-cluster config",
	"namespace":                   "the release namespace, from POD_NAMESPACE",
	"enable-receiver":             "one Deployment per component",
	"enable-controller":           "one Deployment per component",
	"leader-election-id":          "the controller's Role grants this one Lease by name",
	"leader-election-namespace":   "the release namespace, where the Role is",
	"metrics-bind-address":        "the port the metrics Service, NetworkPolicies and ServiceMonitor name",
	"health-probe-bind-address":   "the port the probes name",
	"receiver-bind-address":       "the port the receiver Service and NetworkPolicy name",
	"metrics-secure":              "the ServiceMonitor and the metrics-reader ClusterRole assume HTTPS with authorization",
	"pprof-bind-address":          "profiling, not for an install",
	"receiver-insecure-skip-auth": "never in a cluster",
	"zap-devel":                   "development defaults, not for an install",
}

// documentedFlags are the flags of docs/operations.md's table.
func documentedFlags(t *testing.T) map[string]bool {
	t.Helper()
	table, err := testenv.DocumentedFlags()
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	for name := range table {
		flags[name] = true
	}
	return flags
}

// containerArgs are the manager's arguments in each Deployment of a render,
// by component.
func containerArgs(t *testing.T, objs []*unstructured.Unstructured) map[string][]string {
	t.Helper()
	args := map[string][]string{}
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			d := deployment(t, o)
			args[d.Spec.Template.Labels["app.kubernetes.io/component"]] = d.Spec.Template.Spec.Containers[0].Args
		}
	}
	return args
}

// TestHelmChartCoversEveryFlag: every flag a user tunes can be set from the
// values (the all-on values set each, a producer's listing the one they
// cannot set with a company's), reaches the right Deployment with the
// value given, numbers included (Helm's float64 would print 1048576 as
// 1.048576e+06), and the chart passes no flag the binary lacks.
func TestHelmChartCoversEveryFlag(t *testing.T) {
	documented := documentedFlags(t)
	for name := range notExposed {
		if !documented[name] {
			t.Errorf("notExposed lists --%s, which the binary does not have", name)
		}
	}
	allOn := containerArgs(t, helmTemplate(t, allOnNamespace, "--values", filepath.Join(chartDir(), allOnValues)))
	producer := containerArgs(t, helmTemplate(t, allOnNamespace, "--set", "ingresseAPI.enabled=true", "--set", "ingresseAPI.producerID=297229"))
	reached := map[string]bool{}
	for _, args := range [][]string{allOn["receiver"], allOn["controller"], producer["controller"]} {
		for _, a := range args {
			name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if !documented[name] {
				t.Errorf("the chart passes %s, a flag the binary does not have", a)
			}
			reached[name] = true
		}
	}
	for name := range documented {
		if !reached[name] && notExposed[name] == "" {
			t.Errorf("--%s cannot be set from the chart's values: add it (values.yaml, values.schema.json, %s), or to notExposed with the reason", name, allOnValues)
		}
	}

	// Each flag of the flags maps, as the all-on values set it.
	raw, err := os.ReadFile(filepath.Join(chartDir(), allOnValues))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	schema := readSchema(t)
	for _, component := range []string{"receiver", "controller"} {
		schemaFlags, _, _ := unstructured.NestedMap(schema, "properties", component, "properties", "flags", "properties")
		set, _, _ := unstructured.NestedMap(values, component, "flags")
		for name := range schemaFlags {
			if notExposed[name] != "" || !documented[name] {
				t.Errorf("values.schema.json lets %s.flags set --%s, which is not a flag for users to tune", component, name)
			}
			v, ok := set[name]
			if !ok {
				t.Errorf("%s does not set %s.flags.%s", allOnValues, component, name)
				continue
			}
			want := "--" + name + "=" + flagText(v)
			if !slices.Contains(allOn[component], want) {
				t.Errorf("%s.flags.%s: %s is not among the %s's args %v", component, name, want, component, allOn[component])
			}
		}
	}
}

// flagText is a value from a values file as the flag should carry it.
func flagText(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func readSchema(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir(), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	return schema
}

// TestHelmValuesSchemaRefusesMistakes: a wrong value fails at `helm
// template` (and so at `helm install`), naming where, not at run time.
func TestHelmValuesSchemaRefusesMistakes(t *testing.T) {
	for _, tc := range []struct {
		set, where string
	}{
		{"replicas=2", "additional properties 'replicas' not allowed"},
		{"receiver.replica=2", "/receiver"},
		{"receiver.replicas=two", "/receiver/replicas"},
		{"controller.flags.max-concurrent-reconcile=8", "/controller/flags"},
		{"controller.flags.max-concurrent-reconciles=0", "/controller/flags/max-concurrent-reconciles"},
		{"receiver.flags.receiver-read-timeout=ten", "/receiver/flags/receiver-read-timeout"},
		{"receiver.flags.max-concurrent-reconciles=8", "/receiver/flags"},
		{"logging.encoder=xml", "/logging/encoder"},
		{"image.pullPolicy=Sometimes", "/image/pullPolicy"},
		{"image.digest=latest", "/image/digest"},
		{"monitoring.serviceMonitor.enabled=yes", "/monitoring/serviceMonitor/enabled"},
		{"ingress.enabled=true", "/ingress/host"},
		{"ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/enable-access-log=false", "/ingress/annotations"},
		{"ingresseAPI.companyID=1,ingresseAPI.producerID=2", "/ingresseAPI"},
		{"ingresseAPI.verifyDeliveries=true", "/ingresseAPI"},
		{"receiver.token.create=true", "/receiver/token"},
		{"receiver.goMemLimit=230M", "/receiver/goMemLimit"},
		{"retention.after=90d", "/retention/after"},
		{"networkPolicy.apiServerPorts={}", "/networkPolicy/apiServerPorts"},
		{"networkPolicy.apiServerCIDRs={}", "/networkPolicy/apiServerCIDRs"},
		{"namePrefix=Ingresse", "/namePrefix"},
		{"leaderElection.enabled=false", "/controller/replicas"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			_, err := runHelm(t, "template", chartRelease, chartDir(), "--set", tc.set)
			if err == nil {
				t.Fatalf("--set %s was accepted", tc.set)
			}
			if !strings.Contains(err.Error(), tc.where) {
				t.Errorf("--set %s was refused without naming %q: %v", tc.set, tc.where, err)
			}
		})
	}
	t.Run("a sweep without a listing", func(t *testing.T) {
		_, err := runHelm(t, "template", chartRelease, chartDir(), "--set", "ingresseAPI.enabled=true")
		if err == nil || !strings.Contains(err.Error(), "ingresseAPI.companyID or ingresseAPI.producerID") {
			t.Errorf("ingresseAPI.enabled with no listing to sweep: %v", err)
		}
		if _, err := runHelm(t, "template", chartRelease, chartDir(), "--set", "ingresseAPI.enabled=true",
			"--set", "controller.flags.ingresse-resync-interval=0s"); err != nil {
			t.Errorf("no listing is needed with the sweep off: %v", err)
		}
	})
}

// TestHelmLint: `helm lint --strict`, as CI runs it (make helm-lint).
func TestHelmLint(t *testing.T) {
	for _, args := range [][]string{nil, {"--values", filepath.Join(chartDir(), allOnValues)}} {
		if out, err := runHelm(t, append([]string{"lint", "--strict", chartDir()}, args...)...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

// TestHelmInstallNotes runs `helm install --dry-run=server` against the
// API server and reads what it prints after an install: the webhook URL to
// register with Ingresse, how to get the token, the kubectl lines to see
// events, and a warning where the namespace does not enforce the
// restricted Pod Security Standard.
func TestHelmInstallNotes(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	install := func(t *testing.T, namespace string, args ...string) string {
		t.Helper()
		out, err := runHelm(t, append([]string{"install", chartRelease, chartDir(), "--kubeconfig", kubeconfig,
			"--namespace", namespace, "--dry-run=server", "--skip-crds"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		_, notes, ok := strings.Cut(string(out), "\nNOTES:\n")
		if !ok {
			t.Fatalf("helm install printed no NOTES:\n%s", out)
		}
		return notes
	}
	ensureNamespace(t, installNamespace)
	for _, tc := range []struct {
		name      string
		namespace string
		args      []string
		want      []string
		wantNot   []string
	}{
		{"default values", installNamespace, nil, []string{
			"kubectl -n ingresse-system create secret generic ingresse-receiver-token",
			"No Ingress (ingress.enabled=false)",
			"kubectl -n ingresse-system port-forward svc/ingresse-receiver 8082:80",
			"kubectl get ingresseevents -n ingresse-system -o wide",
			"kubectl wait -n ingresse-system --for=condition=Ready ingresseevent/",
			"kubectl get events -n ingresse-system --field-selector involvedObject.kind=IngresseEvent",
		}, []string{"WARNING"}},
		{"an Ingress and a token the chart keeps", installNamespace, []string{"--set", "ingress.enabled=true", "--set", "ingress.host=hooks.example.com",
			"--set", "receiver.token.create=true", "--set", "receiver.token.tokens=abc"}, []string{
			"https://ingresse:TOKEN@hooks.example.com/webhooks/ingresse",
			"https://hooks.example.com/webhooks/ingresse?token=TOKEN",
			"kubectl -n ingresse-system get secret ingresse-receiver-token -o jsonpath='{.data.tokens}' | base64 -d",
		}, []string{"WARNING", "No Ingress"}},
		{"a namespace that does not enforce restricted", env.Namespace(t), nil,
			[]string{"WARNING: the namespace", "pod-security.kubernetes.io/enforce=restricted"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notes := install(t, tc.namespace, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(notes, w) {
					t.Errorf("the notes lack %q:\n%s", w, notes)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(notes, w) {
					t.Errorf("the notes say %q:\n%s", w, notes)
				}
			}
		})
	}
}
