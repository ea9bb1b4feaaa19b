package config_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// networkPolicies are the NetworkPolicies among objs.
func networkPolicies(t *testing.T, objs []*unstructured.Unstructured) []networkingv1.NetworkPolicy {
	t.Helper()
	var out []networkingv1.NetworkPolicy
	for _, u := range objs {
		if u.GetKind() != "NetworkPolicy" {
			continue
		}
		var np networkingv1.NetworkPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &np); err != nil {
			t.Fatal(err)
		}
		out = append(out, np)
	}
	return out
}

// Ranges that only Ingresse's API policies may open, and then only on 443
// and with the ranges of cluster and host addresses excepted.
var closedToTheInternetRule = map[string][]string{
	"0.0.0.0/0": {"10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"},
	"::/0":      {"::1/128", "fc00::/7", "fe80::/10"},
}

// checkEgress is the rule for every egress rule of every policy the
// install renders: it names its destinations (an egress rule without `to`
// allows every address); DNS goes only to kube-dns pods on 53; addresses
// only on the API server's ports (443, 6443), inside private ranges; and
// public addresses only in the policies for Ingresse's API, on 443, with
// private, loopback and link-local ranges excepted. It returns the
// components whose pods may reach public addresses.
func checkEgress(t *testing.T, where string, nps []networkingv1.NetworkPolicy) (public []string) {
	t.Helper()
	private := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")}
	for _, np := range nps {
		component := np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"]
		for i, rule := range np.Spec.Egress {
			at := fmt.Sprintf("%s: %s egress[%d]", where, np.Name, i)
			if len(rule.To) == 0 {
				t.Errorf("%s has no destination: it allows every address", at)
				continue
			}
			var ports []int32
			for _, p := range rule.Ports {
				ports = append(ports, p.Port.IntVal)
			}
			if len(ports) == 0 {
				t.Errorf("%s allows every port", at)
			}
			for _, peer := range rule.To {
				switch {
				case peer.IPBlock == nil:
					if peer.NamespaceSelector == nil || peer.PodSelector == nil || peer.PodSelector.MatchLabels["k8s-app"] != "kube-dns" ||
						slices.ContainsFunc(ports, func(p int32) bool { return p != 53 }) {
						t.Errorf("%s: a destination that is not an address is kube-dns on 53 only, got %+v on %v", at, peer, ports)
					}
				case closedToTheInternetRule[peer.IPBlock.CIDR] != nil:
					if !strings.HasSuffix(np.Name, "-ingresse-api") || !slices.Equal(ports, []int32{443}) {
						t.Errorf("%s opens %s on %v: only Ingresse's API policies may, on 443", at, peer.IPBlock.CIDR, ports)
					}
					for _, closed := range closedToTheInternetRule[peer.IPBlock.CIDR] {
						if !slices.Contains(peer.IPBlock.Except, closed) {
							t.Errorf("%s opens %s without excepting %s", at, peer.IPBlock.CIDR, closed)
						}
					}
					if !slices.Contains(public, component) {
						public = append(public, component)
					}
				default:
					prefix, err := netip.ParsePrefix(peer.IPBlock.CIDR)
					if err != nil {
						t.Errorf("%s: %v", at, err)
						continue
					}
					inside := slices.ContainsFunc(private, func(p netip.Prefix) bool { return p.Bits() <= prefix.Bits() && p.Contains(prefix.Addr()) })
					if !inside || slices.ContainsFunc(ports, func(p int32) bool { return p != 443 && p != 6443 }) {
						t.Errorf("%s: %s on %v: an address that is not Ingresse's API is the API server's, private, on 443 or 6443", at, peer.IPBlock.CIDR, ports)
					}
				}
			}
		}
	}
	slices.Sort(public)
	return public
}

// TestEveryEgressRuleHasADestination: in every install (the kustomize
// overlays and the chart, with defaults, with every option on, with the
// sweep and with verified deliveries), no egress rule lacks a destination
// or reaches further than its purpose, and only the components that call
// Ingresse's API may reach public addresses: the controller with the
// sweep, the receiver only in verified mode.
func TestEveryEgressRuleHasADestination(t *testing.T) {
	for _, tc := range []struct {
		name   string
		objs   func(t *testing.T) []*unstructured.Unstructured
		public []string
	}{
		{"kustomize default", func(t *testing.T) []*unstructured.Unstructured { return render(t, "default") }, nil},
		{"kustomize ingress", func(t *testing.T) []*unstructured.Unstructured { return render(t, "ingress") }, nil},
		{"kustomize ingresse-api", func(t *testing.T) []*unstructured.Unstructured { return render(t, "overlays/ingresse-api") }, []string{"controller"}},
		{"kustomize ingresse-api-verified", func(t *testing.T) []*unstructured.Unstructured { return render(t, "overlays/ingresse-api-verified") },
			[]string{"controller", "receiver"}},
		{"chart defaults", func(t *testing.T) []*unstructured.Unstructured { return helmTemplate(t, installNamespace) }, nil},
		{"chart, every option on", func(t *testing.T) []*unstructured.Unstructured {
			return helmTemplate(t, installNamespace, "--values", filepath.Join(chartDir(), allOnValues))
		}, []string{"controller", "receiver"}},
		{"chart, the sweep", func(t *testing.T) []*unstructured.Unstructured {
			return helmTemplate(t, installNamespace, "--set", "ingresseAPI.enabled=true", "--set", "ingresseAPI.companyID=1")
		}, []string{"controller"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nps := networkPolicies(t, tc.objs(t))
			if len(nps) < 2 {
				t.Fatalf("%d NetworkPolicies rendered, want one per component at least", len(nps))
			}
			if got := checkEgress(t, tc.name, nps); !slices.Equal(got, tc.public) {
				t.Errorf("components that may reach public addresses: %v, want %v", got, tc.public)
			}
		})
	}
}

// TestAPIServerAddressesAreTheInstallers: the API server's addresses the
// installer gives (the chart's networkPolicy.apiServerCIDRs, or the patch
// docs/operations.md shows for kustomize) are the only addresses both
// components may reach on the API server's ports.
func TestAPIServerAddressesAreTheInstallers(t *testing.T) {
	want := []string{"10.96.0.1/32", "192.168.49.2/32"}
	apiServerRule := func(t *testing.T, np networkingv1.NetworkPolicy) []string {
		t.Helper()
		for _, rule := range np.Spec.Egress {
			var cidrs []string
			for _, peer := range rule.To {
				if peer.IPBlock != nil {
					cidrs = append(cidrs, peer.IPBlock.CIDR)
				}
			}
			if len(cidrs) > 0 {
				return cidrs
			}
		}
		t.Fatalf("%s has no rule to the API server", np.Name)
		return nil
	}
	chart := helmTemplate(t, installNamespace, "--set", "networkPolicy.apiServerCIDRs={"+strings.Join(want, ",")+"}")
	kustomized := renderOverlay(t, kustomizeAPIServerPatch, nil)
	for name, objs := range map[string][]*unstructured.Unstructured{"chart": chart, "kustomize": kustomized} {
		nps := networkPolicies(t, objs)
		for _, np := range nps {
			if got := apiServerRule(t, np); !slices.Equal(got, want) {
				t.Errorf("%s: %s reaches the API server at %v, want %v", name, np.Name, got, want)
			}
		}
		checkEgress(t, name, nps)
	}
}

// kustomizeAPIServerPatch is the overlay docs/operations.md shows for
// setting the API server's addresses (the test keeps the two the same).
const kustomizeAPIServerPatch = `resources:
- ../../default
patches:
- target:
    kind: NetworkPolicy
    name: ingresse-(receiver|controller)
  patch: |-
    - op: replace
      path: /spec/egress/0/to
      value:
      - ipBlock: {cidr: 10.96.0.1/32}
      - ipBlock: {cidr: 192.168.49.2/32}
`
