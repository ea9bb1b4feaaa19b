package main

import (
	"encoding/json"
	"slices"
	"testing"
)

// The addresses deploy-local gives the policies: every input address as a
// single-address CIDR of its family, sorted, repeats gone, and a lone
// ClusterIP (no endpoint) or a non-address refused.
func TestHostCIDRs(t *testing.T) {
	got, err := hostCIDRs([]string{"10.96.0.1", "10.200.0.1", "10.200.0.1", "fd00::1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.200.0.1/32", "10.96.0.1/32", "fd00::1/128"}; !slices.Equal(got, want) {
		t.Errorf("hostCIDRs = %v, want %v", got, want)
	}
	for _, bad := range [][]string{{"10.96.0.1"}, {"10.96.0.1", "10.96.0.1"}, {"10.96.0.1", "kubernetes"}, {"10.96.0.1", "10.0.0.0/8"}, {"", "10.200.0.1"}} {
		if got, err := hostCIDRs(bad); err == nil {
			t.Errorf("hostCIDRs(%q) = %v, want an error", bad, got)
		}
	}
}

// The kustomize patch replaces the API server rule's destinations, and
// only them, with one ipBlock per CIDR; the chart's --set names the value
// docs/operations.md names.
func TestCIDRsPatchAndSet(t *testing.T) {
	cidrs := []string{"10.200.0.1/32", "10.96.0.1/32"}
	p, err := kustomizeCIDRsPatch(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	var ops []struct {
		Op, Path string
		Value    []struct {
			IPBlock struct{ CIDR string } `json:"ipBlock"`
		}
	}
	if err := json.Unmarshal([]byte(p), &ops); err != nil {
		t.Fatalf("patch %s: %v", p, err)
	}
	if len(ops) != 1 || ops[0].Op != "replace" || ops[0].Path != "/spec/egress/0/to" || len(ops[0].Value) != len(cidrs) {
		t.Fatalf("patch %s: want one replace of /spec/egress/0/to with %d ipBlocks", p, len(cidrs))
	}
	for i, v := range ops[0].Value {
		if v.IPBlock.CIDR != cidrs[i] {
			t.Errorf("patch %s: ipBlock %d is %q, want %q", p, i, v.IPBlock.CIDR, cidrs[i])
		}
	}
	if got, want := helmCIDRs(cidrs), "networkPolicy.apiServerCIDRs={10.200.0.1/32,10.96.0.1/32}"; got != want {
		t.Errorf("helmCIDRs = %q, want %q", got, want)
	}
}
