package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// apiServerCIDRs finds the API server's addresses the way
// docs/operations.md ("Network policy") tells installers to: the
// kubernetes Service's ClusterIP and the addresses of its EndpointSlices
// (NetworkPolicy is judged after kube-proxy's DNAT on most plugins, before
// it on some), each as a single-address CIDR, sorted, without repeats.
func apiServerCIDRs(ctx context.Context, c client.Client) ([]string, error) {
	var svc corev1.Service
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, &svc); err != nil {
		return nil, fmt.Errorf("reading the Service default/kubernetes: %w", err)
	}
	var eps discoveryv1.EndpointSliceList
	if err := c.List(ctx, &eps, client.InNamespace("default"),
		client.MatchingLabels{discoveryv1.LabelServiceName: "kubernetes"}); err != nil {
		return nil, fmt.Errorf("listing the EndpointSlices of default/kubernetes: %w", err)
	}
	addrs := []string{svc.Spec.ClusterIP}
	for _, s := range eps.Items {
		for _, e := range s.Endpoints {
			addrs = append(addrs, e.Addresses...)
		}
	}
	return hostCIDRs(addrs)
}

// hostCIDRs turns addresses into single-address CIDRs (/32, /128), sorted,
// without repeats; at least one endpoint besides the ClusterIP is needed.
func hostCIDRs(addrs []string) ([]string, error) {
	var cidrs []string
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("the API server's address %q: %w", a, err)
		}
		cidrs = append(cidrs, netip.PrefixFrom(ip, ip.BitLen()).String())
	}
	slices.Sort(cidrs)
	cidrs = slices.Compact(cidrs)
	if len(cidrs) < 2 {
		return nil, fmt.Errorf("the API server's addresses %v: want its ClusterIP and at least one endpoint", addrs)
	}
	return cidrs, nil
}

// helmCIDRs is the chart's networkPolicy.apiServerCIDRs as a --set value.
func helmCIDRs(cidrs []string) string {
	return "networkPolicy.apiServerCIDRs={" + strings.Join(cidrs, ",") + "}"
}

// kustomizeCIDRsPatch is the JSON patch docs/operations.md gives for
// kustomize: the API server rule's destinations replaced by cidrs.
func kustomizeCIDRsPatch(cidrs []string) (string, error) {
	to := make([]map[string]map[string]string, 0, len(cidrs))
	for _, c := range cidrs {
		to = append(to, map[string]map[string]string{"ipBlock": {"cidr": c}})
	}
	b, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/spec/egress/0/to", "value": to}})
	if err != nil {
		return "", fmt.Errorf("the network policy patch: %w", err)
	}
	return string(b), nil
}
