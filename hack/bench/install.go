package main

import (
	"context"
	"fmt"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// installedAccess is what config/default grants the installed topology's
// processes, set up on the test API server: each role's ServiceAccount,
// Roles and bindings (the ClusterRoles too), and the FlowSchemas and
// PriorityLevelConfigurations of API Priority and Fairness, moved to the
// benchmark's namespace. The processes then run as those ServiceAccounts
// (testenv.ManagerOptions.ServiceAccount), so that what the benchmark
// measures is the install's RBAC and priority levels, not the exempt
// admin's.
var installedKinds = map[string]bool{
	"ServiceAccount": true, "Role": true, "RoleBinding": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"FlowSchema": true, "PriorityLevelConfiguration": true,
}

// serviceAccounts are the install's ServiceAccount of each role.
var serviceAccounts = map[string]string{roleReceiver: "ingresse-receiver", roleController: "ingresse-controller"}

// installAccess applies config/default's access objects for namespace ns
// and returns how many it applied.
func (b *bench) installAccess(ctx context.Context, ns string) (int, error) {
	objs, err := renderInstall(ns)
	if err != nil {
		return 0, err
	}
	for _, o := range objs {
		if err := b.env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("bench"), client.ForceOwnership); err != nil {
			return 0, fmt.Errorf("applying config/default's %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return len(objs), nil
}

// renderInstall is config/default as kustomize renders it, only its access
// objects, moved from the install's namespace to ns: every namespaced
// object, and every ServiceAccount a binding or a FlowSchema names.
func renderInstall(ns string) ([]*unstructured.Unstructured, error) {
	dir := filepath.Join(testenv.RepoRoot(), "config", "default")
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, res := range resMap.Resources() {
		if !installedKinds[res.GetKind()] {
			continue
		}
		raw, err := res.MarshalJSON()
		if err != nil {
			return nil, err
		}
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(raw); err != nil {
			return nil, err
		}
		if o.GetNamespace() != "" {
			o.SetNamespace(ns)
		}
		if err := moveSubjects(o, ns); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s renders no access objects", dir)
	}
	return out, nil
}

// moveSubjects points the ServiceAccount subjects of a binding or a
// FlowSchema at namespace ns.
func moveSubjects(o *unstructured.Unstructured, ns string) error {
	switch o.GetKind() {
	case "RoleBinding", "ClusterRoleBinding":
		subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
		for _, s := range subjects {
			if m, ok := s.(map[string]any); ok && m["kind"] == "ServiceAccount" {
				m["namespace"] = ns
			}
		}
		return unstructured.SetNestedSlice(o.Object, subjects, "subjects")
	case "FlowSchema":
		rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
		for _, r := range rules {
			rule, _ := r.(map[string]any)
			subjects, _ := rule["subjects"].([]any)
			for _, s := range subjects {
				if sa, ok := s.(map[string]any)["serviceAccount"].(map[string]any); ok {
					sa["namespace"] = ns
				}
			}
		}
		return unstructured.SetNestedSlice(o.Object, rules, "spec", "rules")
	}
	return nil
}
