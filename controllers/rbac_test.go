package controllers

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/yaml"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// TestControllerRunsWithItsRole runs the controller as a user bound to
// nothing but config/rbac/controller_role.yaml (generated from the RBAC
// markers), with leader election as the manager runs it (the default
// --leader-election-id, the lease released on shutdown), so a verb the
// controller or leader election needs and the Role lacks fails here rather
// than in a cluster. (The test API server does not run the
// OwnerReferencesPermissionEnforcement admission plugin, so the
// ingresseevents/finalizers rule is not exercised.)
func TestControllerRunsWithItsRole(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)

	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "controller_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{}
	if err := yaml.UnmarshalStrict(raw, role); err != nil {
		t.Fatal(err)
	}
	role.Namespace = ns
	if err := env.Client.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	userName := "ingresse-controller-" + ns
	user, err := env.Environment.AddUser(envtest.User{Name: userName}, nil)
	if err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "controller", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: userName}},
	}
	if err := env.Client.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	leaseKey := client.ObjectKey{Namespace: ns, Name: leaderElectionID}
	t.Cleanup(func() { // after the manager stopped (cleanups run last first)
		lease := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, leaseKey, lease); err != nil {
			t.Fatal(err)
		}
		if holder := ptr.Deref(lease.Spec.HolderIdentity, ""); holder != "" {
			t.Errorf("the lease is still held by %q after the manager stopped: releasing it was refused", holder)
		}
	})
	mgr := newManager(t, user.Config(), ns, func(o *manager.Options) {
		o.LeaderElection = true
		o.LeaderElectionID = leaderElectionID
		o.LeaderElectionNamespace = ns
		o.LeaderElectionReleaseOnCancel = true
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = ptr.To(4*time.Second), ptr.To(3*time.Second), ptr.To(500*time.Millisecond)
	})
	if err := (&IngresseEventReconciler{}).SetupWithManager(mgr, Options{}); err != nil {
		t.Fatal(err)
	}
	runManager(t, mgr)

	ev := newEvent(ns, seedSpec(t))
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ev)
	got := waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)

	// Drift repair needs the patch that removes keys added by hand.
	cm, err := getConfigMap(key)
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["EXTRA"] = "added by hand"
	if err := env.Client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the added key to be removed", func() error {
		cm, err := getConfigMap(key)
		if err == nil && cm.Data["EXTRA"] != "" {
			return errString("EXTRA is still there")
		}
		return err
	})
	waitForEvent(t, got, corev1.EventTypeNormal, reasonConfigMapApplied)

	// The controller ran, so the lease was created and is held; the leader
	// renews it by name.
	first := &coordinationv1.Lease{}
	if err := env.Client.Get(ctx, leaseKey, first); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the lease to be renewed", func() error {
		lease := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, leaseKey, lease); err != nil {
			return err
		}
		if lease.ResourceVersion == first.ResourceVersion || ptr.Deref(lease.Spec.HolderIdentity, "") == "" {
			return errString("not renewed since resourceVersion " + first.ResourceVersion)
		}
		return nil
	})
}

// leaderElectionID is the manager's default --leader-election-id, the one
// Lease the controller's Role lets it read and update.
const leaderElectionID = "ingresse-operator.events.ingresse.com"

type errString string

func (e errString) Error() string { return string(e) }
