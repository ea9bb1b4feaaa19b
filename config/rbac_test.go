package config_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Identities of the operator's two ServiceAccounts, as the API server sees
// their pods.
const (
	receiverSA   = "system:serviceaccount:" + installNamespace + ":ingresse-receiver"
	controllerSA = "system:serviceaccount:" + installNamespace + ":ingresse-controller"
	// unboundSA has no binding at all: the control that the review
	// answers come from the Roles, not from something every account has.
	unboundSA = "system:serviceaccount:" + installNamespace + ":nobody"
	// scraperSA is bound to the metrics-reader ClusterRole by the test.
	scraperSA = "system:serviceaccount:" + installNamespace + ":prometheus"
)

// access is one question to the API server's authorizer.
type access struct {
	verb, group, resource, subresource string
	// namespace is installNamespace unless set; "*" asks cluster-wide.
	namespace string
	// name is the object's name; empty asks for any object (and for
	// create, which has no name to check before the object exists).
	name string
	// path, when set, asks about a URL that is not a resource (/metrics).
	path string
}

func (a access) String() string {
	if a.path != "" {
		return a.verb + " " + a.path
	}
	r := a.resource
	if a.group != "" {
		r += "." + a.group
	}
	if a.subresource != "" {
		r += "/" + a.subresource
	}
	if a.name != "" {
		r += " " + a.name
	}
	ns := a.namespace
	if ns == "" {
		ns = installNamespace
	}
	return fmt.Sprintf("%s %s in %s", a.verb, r, ns)
}

const (
	eventsGroup      = "events.ingresse.com"
	coordinationAPI  = "coordination.k8s.io"
	leaderElectionID = "ingresse-operator.events.ingresse.com" // the manager's --leader-election-id default
)

// TestRBACLeastPrivilege installs the ServiceAccounts, Roles and
// RoleBindings that config/default renders into the real API server and
// asks its authorizer (SubjectAccessReview), as each component's
// ServiceAccount, for what it must be able to do and for what it must not:
// the receiver writes IngresseEvents' spec and nothing else, the controller
// writes their status, the ConfigMaps and its leader-election Lease (by
// name) and nothing else, and neither reads Secrets, reaches outside its
// namespace or can grant itself more.
func TestRBACLeastPrivilege(t *testing.T) {
	ctx := context.Background()
	scraper := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": "rbac-test-prometheus"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ingresse-metrics-reader"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "prometheus", "namespace": installNamespace}},
	}}
	for _, o := range append(render(t, "default"), scraper) {
		switch o.GetKind() {
		case "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
				client.FieldOwner("rbac-test"), client.ForceOwnership); err != nil {
				t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
	}

	// Asked of both components: nobody reads Secrets, runs pods, grants
	// rights, impersonates, or acts outside the install namespace.
	neither := []access{
		{verb: "get", resource: "secrets"},
		{verb: "list", resource: "secrets"},
		{verb: "watch", resource: "secrets"},
		{verb: "create", resource: "pods"},
		{verb: "create", resource: "pods", subresource: "exec"},
		{verb: "create", group: "rbac.authorization.k8s.io", resource: "roles"},
		{verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings"},
		{verb: "bind", group: "rbac.authorization.k8s.io", resource: "roles"},
		{verb: "escalate", group: "rbac.authorization.k8s.io", resource: "roles"},
		{verb: "impersonate", resource: "serviceaccounts"},
		{verb: "create", resource: "serviceaccounts", subresource: "token"},
		{verb: "delete", group: eventsGroup, resource: "ingresseevents"},
		{verb: "deletecollection", group: eventsGroup, resource: "ingresseevents"},
		{verb: "delete", resource: "configmaps"},
		{verb: "create", group: eventsGroup, resource: "ingresseevents", namespace: "default"},
		{verb: "get", group: eventsGroup, resource: "ingresseevents", namespace: "kube-system"},
		{verb: "list", group: eventsGroup, resource: "ingresseevents", namespace: "*"},
		{verb: "patch", resource: "configmaps", namespace: "default"},
		{verb: "update", group: "apiextensions.k8s.io", resource: "customresourcedefinitions", namespace: "*"},
		{verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterroles", namespace: "*"},
		{verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings", namespace: "*"},
		{verb: "get", path: "/metrics"},
	}
	// The secure metrics endpoint of both components asks the API server
	// who a scraper is and whether it may read /metrics.
	metricsAuth := []access{
		{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews", namespace: "*"},
		{verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews", namespace: "*"},
	}
	for _, tc := range []struct {
		user            string
		allowed, denied []access
	}{
		{
			user: receiverSA,
			allowed: append([]access{
				{verb: "create", group: eventsGroup, resource: "ingresseevents"},
				{verb: "update", group: eventsGroup, resource: "ingresseevents"},
				{verb: "get", group: eventsGroup, resource: "ingresseevents"},
				{verb: "create", group: "events.k8s.io", resource: "events"},
				{verb: "patch", group: "events.k8s.io", resource: "events"},
			}, metricsAuth...),
			denied: append([]access{
				// It reads each event it stores, and keeps no informer.
				{verb: "list", group: eventsGroup, resource: "ingresseevents"},
				{verb: "watch", group: eventsGroup, resource: "ingresseevents"},
				{verb: "get", resource: "configmaps"},
				{verb: "list", resource: "configmaps"},
				{verb: "create", resource: "configmaps"},
				{verb: "patch", group: eventsGroup, resource: "ingresseevents"},
				{verb: "update", group: eventsGroup, resource: "ingresseevents", subresource: "status"},
				{verb: "patch", group: eventsGroup, resource: "ingresseevents", subresource: "status"},
				{verb: "update", group: eventsGroup, resource: "ingresseevents", subresource: "finalizers"},
				{verb: "get", group: coordinationAPI, resource: "leases", name: leaderElectionID},
				{verb: "create", group: coordinationAPI, resource: "leases"},
			}, neither...),
		},
		{
			user: controllerSA,
			allowed: append([]access{
				{verb: "get", group: eventsGroup, resource: "ingresseevents"},
				{verb: "list", group: eventsGroup, resource: "ingresseevents"},
				{verb: "watch", group: eventsGroup, resource: "ingresseevents"},
				{verb: "patch", group: eventsGroup, resource: "ingresseevents", subresource: "status"},
				{verb: "update", group: eventsGroup, resource: "ingresseevents", subresource: "finalizers"},
				{verb: "get", resource: "configmaps"},
				{verb: "list", resource: "configmaps"},
				{verb: "watch", resource: "configmaps"},
				{verb: "create", resource: "configmaps"},
				{verb: "patch", resource: "configmaps"},
				{verb: "create", group: "events.k8s.io", resource: "events"},
				// Leader election: what client-go's LeaseLock does.
				{verb: "get", group: coordinationAPI, resource: "leases", name: leaderElectionID},
				{verb: "update", group: coordinationAPI, resource: "leases", name: leaderElectionID},
				{verb: "create", group: coordinationAPI, resource: "leases"},
			}, metricsAuth...),
			denied: append([]access{
				{verb: "create", group: eventsGroup, resource: "ingresseevents"},
				{verb: "update", group: eventsGroup, resource: "ingresseevents"},
				{verb: "patch", group: eventsGroup, resource: "ingresseevents"},
				{verb: "get", group: eventsGroup, resource: "ingresseevents", subresource: "status"},
				{verb: "update", group: eventsGroup, resource: "ingresseevents", subresource: "status"},
				{verb: "update", resource: "configmaps"},
				// Leader election needs nothing more, and no other Lease.
				{verb: "list", group: coordinationAPI, resource: "leases"},
				{verb: "watch", group: coordinationAPI, resource: "leases"},
				{verb: "get", group: coordinationAPI, resource: "leases"},
				{verb: "patch", group: coordinationAPI, resource: "leases", name: leaderElectionID},
				{verb: "delete", group: coordinationAPI, resource: "leases", name: leaderElectionID},
				{verb: "delete", group: coordinationAPI, resource: "leases"},
				{verb: "deletecollection", group: coordinationAPI, resource: "leases"},
				{verb: "get", group: coordinationAPI, resource: "leases", name: "another-operator"},
				{verb: "update", group: coordinationAPI, resource: "leases", name: "another-operator"},
			}, neither...),
		},
		{
			user: unboundSA,
			denied: []access{
				{verb: "create", group: eventsGroup, resource: "ingresseevents"},
				{verb: "get", group: eventsGroup, resource: "ingresseevents"},
				{verb: "patch", group: eventsGroup, resource: "ingresseevents", subresource: "status"},
				{verb: "create", resource: "configmaps"},
				{verb: "get", path: "/metrics"},
			},
		},
		{
			// A scraper bound to the metrics-reader ClusterRole, as the
			// docs/operations.md says to bind Prometheus: /metrics and nothing else.
			user:    scraperSA,
			allowed: []access{{verb: "get", path: "/metrics"}},
			denied: []access{
				{verb: "post", path: "/metrics"},
				{verb: "get", group: eventsGroup, resource: "ingresseevents"},
				{verb: "get", resource: "secrets"},
				{verb: "get", resource: "configmaps"},
				{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews", namespace: "*"},
			},
		},
	} {
		t.Run(tc.user, func(t *testing.T) {
			// The authorizer sees new bindings through its informers;
			// until it allows the first thing, a denial would prove
			// nothing.
			if len(tc.allowed) > 0 {
				deadline := time.Now().Add(10 * time.Second)
				for allowed, _ := review(t, tc.user, tc.allowed[0]); !allowed && time.Now().Before(deadline); allowed, _ = review(t, tc.user, tc.allowed[0]) {
					time.Sleep(100 * time.Millisecond)
				}
			}
			for _, a := range tc.allowed {
				if allowed, reason := review(t, tc.user, a); !allowed {
					t.Errorf("cannot %s, but needs to (%s)", a, reason)
				}
			}
			for _, a := range tc.denied {
				if allowed, reason := review(t, tc.user, a); allowed {
					t.Errorf("can %s, and must not (%s)", a, reason)
				}
			}
		})
	}
}

// review asks the API server whether user may do a.
func review(t *testing.T, user string, a access) (bool, string) {
	t.Helper()
	ns := a.namespace
	switch ns {
	case "":
		ns = installNamespace
	case "*":
		ns = ""
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   user,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + installNamespace, "system:authenticated"},
	}}
	if a.path != "" {
		sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: a.path, Verb: a.verb}
	} else {
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource, Name: a.name,
		}
	}
	if err := env.Client.Create(context.Background(), sar); err != nil {
		t.Fatalf("SubjectAccessReview for %s: %v", a, err)
	}
	return sar.Status.Allowed, sar.Status.Reason
}
