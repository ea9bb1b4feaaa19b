package config_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestPriorityLevelsClassifyEachServiceAccount applies config/default's
// FlowSchemas and PriorityLevelConfigurations to the real API server and
// sends a request as each of the install's ServiceAccounts: the API
// server's own answer headers (X-Kubernetes-PF-FlowSchema-UID and
// X-Kubernetes-PF-PriorityLevel-UID) show which schema matched it and which
// priority level it was queued in. The receiver's requests land in the
// receiver's level, the controller's in the controller's, and its Lease
// stays with the built-in schemas.
func TestPriorityLevelsClassifyEachServiceAccount(t *testing.T) {
	ctx := context.Background()
	objs := render(t, "default")
	uids := map[string]string{} // kind/name -> uid
	for _, kind := range []string{"PriorityLevelConfiguration", "FlowSchema"} {
		for _, name := range []string{"ingresse-receiver", "ingresse-controller"} {
			o := find(objs, kind, name)
			if o == nil {
				t.Fatalf("config/default renders no %s %s", kind, name)
			}
			if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
				client.FieldOwner("priority-test"), client.ForceOwnership); err != nil {
				t.Fatalf("applying %s %s: %v", kind, name, err)
			}
			applied := &unstructured.Unstructured{}
			applied.SetGroupVersionKind(o.GroupVersionKind())
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), applied); err != nil {
				t.Fatal(err)
			}
			uids[kind+"/"+name] = string(applied.GetUID())
			t.Cleanup(func() { _ = env.Client.Delete(ctx, applied) })
		}
	}
	// Each FlowSchema matches a ServiceAccount the install creates, in its
	// namespace.
	for _, name := range []string{"ingresse-receiver", "ingresse-controller"} {
		rules, _, _ := unstructured.NestedSlice(find(objs, "FlowSchema", name).Object, "spec", "rules")
		rule := rules[0].(map[string]any)
		subject := rule["subjects"].([]any)[0].(map[string]any)["serviceAccount"].(map[string]any)
		if subject["name"] != name || subject["namespace"] != installNamespace || find(objs, "ServiceAccount", name) == nil {
			t.Errorf("FlowSchema %s matches ServiceAccount %v/%v, want the install's %s/%s", name, subject["namespace"], subject["name"], installNamespace, name)
		}
	}

	for _, tc := range []struct {
		serviceAccount, path string
		level                string // "" for a built-in one
	}{
		{"ingresse-receiver", "/apis/events.ingresse.com/v1alpha1/namespaces/" + installNamespace + "/ingresseevents/event-1", "ingresse-receiver"},
		{"ingresse-receiver", "/api/v1/namespaces/" + installNamespace + "/events", "ingresse-receiver"},
		{"ingresse-controller", "/apis/events.ingresse.com/v1alpha1/namespaces/" + installNamespace + "/ingresseevents", "ingresse-controller"},
		{"ingresse-controller", "/api/v1/namespaces/" + installNamespace + "/configmaps/event-1", "ingresse-controller"},
		{"ingresse-controller", "/apis/coordination.k8s.io/v1/namespaces/" + installNamespace + "/leases/ingresse-operator", ""},
	} {
		t.Run(tc.serviceAccount+" "+tc.path, func(t *testing.T) {
			cfg := rest.CopyConfig(env.Config)
			cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + installNamespace + ":" + tc.serviceAccount}
			hc, err := rest.HTTPClientFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// The API server's configuration controller takes a moment to
			// see new FlowSchemas.
			var schema, level string
			deadline := time.Now().Add(30 * time.Second)
			for {
				resp, err := hc.Get(cfg.Host + tc.path)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				schema, level = resp.Header.Get("X-Kubernetes-PF-FlowSchema-UID"), resp.Header.Get("X-Kubernetes-PF-PriorityLevel-UID")
				matched := schema == uids["FlowSchema/"+tc.level] && level == uids["PriorityLevelConfiguration/"+tc.level]
				if tc.level == "" {
					matched = schema != "" && schema != uids["FlowSchema/ingresse-receiver"] && schema != uids["FlowSchema/ingresse-controller"]
				}
				if matched {
					return
				}
				if time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Errorf("classified by FlowSchema %q into priority level %q; want %q (uids %v)", schema, level, tc.level, uids)
		})
	}
}
