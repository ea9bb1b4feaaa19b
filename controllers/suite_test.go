package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	testenv.Run(m, &env)
}

// startManager starts a manager configured as cmd/main.go configures it
// (cache restricted to one namespace, managedFields stripped, ConfigMaps
// cached through ConfigMapCacheTransform and IngresseEvents through
// eventcache.Transform), for one test's namespace. With
// a reconciler, the controller runs in it; without, the test drives
// Reconcile itself on top of the manager's cache.
func startManager(t *testing.T, ns string, r *IngresseEventReconciler) manager.Manager {
	t.Helper()
	return startManagerAs(t, env.Config, ns, r)
}

// startManagerAs is startManager with the identity of cfg.
func startManagerAs(t *testing.T, cfg *rest.Config, ns string, r *IngresseEventReconciler) manager.Manager {
	t.Helper()
	return startManagerWith(t, cfg, ns, r, Options{MaxConcurrentReconciles: 2})
}

// startManagerWith is startManagerAs with the controller's options.
func startManagerWith(t *testing.T, cfg *rest.Config, ns string, r *IngresseEventReconciler, opts Options) manager.Manager {
	t.Helper()
	var edits []func(*manager.Options)
	if r != nil {
		// As cmd/main.go runs it: the objects not reconciled yet kept
		// whole from the watch, unless the test chose its own.
		if r.Watched == nil {
			r.Watched = eventcache.NewWatched(10000, 64<<20)
		}
		edits = append(edits, withWatched(r.Watched))
	}
	mgr := newManager(t, cfg, ns, edits...)
	if r != nil {
		if err := r.SetupWithManager(mgr, opts); err != nil {
			t.Fatal(err)
		}
	}
	runManager(t, mgr)
	return mgr
}

// newManager is the manager startManager starts, not started yet: a
// reconciler whose client wraps the manager's can be set up with it before
// runManager. edit, if any, changes its options.
func newManager(t *testing.T, cfg *rest.Config, ns string, edit ...func(*manager.Options)) manager.Manager {
	t.Helper()
	opts := manager.Options{
		Scheme:                 testenv.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{ns: {}},
			DefaultTransform:  cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.ConfigMap{}:             {Transform: ConfigMapCacheTransform},
				&eventsv1alpha1.IngresseEvent{}: {Transform: eventcache.Transform},
			},
		},
		// Each test runs its own controller in the same process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	for _, e := range edit {
		e(&opts)
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// withWatched makes the IngresseEvent cache keep in w what the controller
// has not reconciled yet, as cmd/main.go does.
func withWatched(w *eventcache.Watched) func(*manager.Options) {
	return func(o *manager.Options) {
		// ByObject is keyed by pointers: replace the IngresseEvent's entry.
		for obj := range o.Cache.ByObject {
			if _, ok := obj.(*eventsv1alpha1.IngresseEvent); ok {
				delete(o.Cache.ByObject, obj)
			}
		}
		o.Cache.ByObject[&eventsv1alpha1.IngresseEvent{}] = cache.ByObject{Transform: w.Transform}
	}
}

// runManager starts mgr until the test ends and waits for its cache.
func runManager(t *testing.T, mgr manager.Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
}

// eventually retries check until it succeeds, failing the test with its
// last error if it never does. The timeout is generous: it bounds a broken
// test, it is not a performance claim.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newEvent is an IngresseEvent named for its id, in ns.
func newEvent(ns string, spec eventsv1alpha1.IngresseEventSpec) *eventsv1alpha1.IngresseEvent {
	return &eventsv1alpha1.IngresseEvent{
		ObjectMeta: metav1.ObjectMeta{Name: eventsv1alpha1.ResourceName(spec.ID), Namespace: ns},
		Spec:       spec,
	}
}

// getEvent reads an IngresseEvent from the API server.
func getEvent(t *testing.T, key client.ObjectKey) *eventsv1alpha1.IngresseEvent {
	t.Helper()
	ev := &eventsv1alpha1.IngresseEvent{}
	if err := env.Client.Get(context.Background(), key, ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// getConfigMap reads a ConfigMap, data and all, from the API server.
func getConfigMap(key client.ObjectKey) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	return cm, env.Client.Get(context.Background(), key, cm)
}

// conditionIs checks one condition of an event, including that it
// describes the event's current generation.
func conditionIs(ev *eventsv1alpha1.IngresseEvent, condType string, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(ev.Status.Conditions, condType)
	switch {
	case c == nil:
		return fmt.Errorf("no %s condition in %+v", condType, ev.Status.Conditions)
	case c.Status != status || c.Reason != reason:
		return fmt.Errorf("%s is %s/%s (%s), want %s/%s", condType, c.Status, c.Reason, c.Message, status, reason)
	case c.ObservedGeneration != ev.Generation || ev.Status.ObservedGeneration != ev.Generation:
		return fmt.Errorf("%s describes generation %d (status %d), the event is at %d", condType, c.ObservedGeneration, ev.Status.ObservedGeneration, ev.Generation)
	}
	return nil
}

// waitForCondition waits until the event stored on the API server has the
// condition.
func waitForCondition(t *testing.T, key client.ObjectKey, condType string, status metav1.ConditionStatus, reason string) *eventsv1alpha1.IngresseEvent {
	t.Helper()
	var ev *eventsv1alpha1.IngresseEvent
	eventually(t, fmt.Sprintf("%s becoming %s/%s", condType, status, reason), func() error {
		ev = getEvent(t, key)
		return conditionIs(ev, condType, status, reason)
	})
	return ev
}

// waitForEvent waits until a Kubernetes Event with reason is recorded on
// the IngresseEvent, and returns its note.
func waitForEvent(t *testing.T, ev *eventsv1alpha1.IngresseEvent, eventType, reason string) string {
	t.Helper()
	var note string
	eventually(t, "a "+eventType+" "+reason+" Event", func() error {
		var list eventsv1.EventList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(ev.Namespace)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.UID == ev.UID && e.Type == eventType && e.Reason == reason {
				note = e.Note
				return nil
			}
		}
		return fmt.Errorf("%d Events, none %s %s on %s", len(list.Items), eventType, reason, ev.Name)
	})
	return note
}

// countEvents counts the Events with reason on ev.
func countEvents(t *testing.T, ev *eventsv1alpha1.IngresseEvent, reason string) int {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ev.Namespace)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Regarding.UID == ev.UID && e.Reason == reason {
			n++
		}
	}
	return n
}

// writeCounter counts every write a client makes.
type writeCounter struct {
	writes atomic.Int64
	// refused counts the writes the API server refused.
	refused atomic.Int64
	// failConfigMapWrites, when set, fails every create and apply of a
	// ConfigMap with it.
	failConfigMapWrites atomic.Pointer[error]
	// conflictsLeft is how many of the next ConfigMap applies fail with
	// 409 Conflict, as the API server answers an apply naming the UID of
	// a ConfigMap deleted since it was cached.
	conflictsLeft atomic.Int64
	// hideConfigMaps makes every ConfigMap look absent to Get, as a cache
	// that has not caught up yet would.
	hideConfigMaps atomic.Bool
	// staleConfigMap, when set, is what Get returns for every ConfigMap,
	// as a cache that has not seen it replaced would.
	staleConfigMap atomic.Pointer[corev1.ConfigMap]
}

// count is the number of writes attempted.
func (w *writeCounter) count() int64 { return w.writes.Load() }

// stored is the number of writes the API server accepted.
func (w *writeCounter) stored() int64 { return w.writes.Load() - w.refused.Load() }

// note counts a write that ended with err.
func (w *writeCounter) note(err error) error {
	w.writes.Add(1)
	if err != nil {
		w.refused.Add(1)
	}
	return err
}

// takeConflict reports whether the next apply is to fail with a conflict
// (conflictsLeft), counting it.
func (w *writeCounter) takeConflict() bool {
	for {
		n := w.conflictsLeft.Load()
		if n <= 0 {
			return false
		}
		if w.conflictsLeft.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// wrap returns c with every write counted.
func (w *writeCounter) wrap(c client.Client) client.Client {
	return interceptor.NewClient(withoutWatch{c}, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, isCM := obj.(*corev1.ConfigMap); isCM && w.hideConfigMaps.Load() {
				return apierrors.NewNotFound(corev1.Resource("configmaps"), key.Name)
			}
			if cm, isCM := obj.(*corev1.ConfigMap); isCM && w.staleConfigMap.Load() != nil {
				w.staleConfigMap.Load().DeepCopyInto(cm)
				return nil
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := w.failConfigMapWrites.Load(); err != nil && isConfigMap(obj) {
				return w.note(*err)
			}
			return w.note(c.Create(ctx, obj, opts...))
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return w.note(c.Update(ctx, obj, opts...))
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return w.note(c.Patch(ctx, obj, patch, opts...))
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			// The controller applies ConfigMaps only.
			if err := w.failConfigMapWrites.Load(); err != nil {
				return w.note(*err)
			}
			if w.takeConflict() {
				return w.note(conflictError(obj))
			}
			return w.note(c.Apply(ctx, obj, opts...))
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return w.note(c.Delete(ctx, obj, opts...))
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			return w.note(c.DeleteAllOf(ctx, obj, opts...))
		},
		SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj, subObj client.Object, opts ...client.SubResourceCreateOption) error {
			return w.note(c.SubResource(sub).Create(ctx, obj, subObj, opts...))
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return w.note(c.SubResource(sub).Update(ctx, obj, opts...))
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			return w.note(c.SubResource(sub).Patch(ctx, obj, patch, opts...))
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			return w.note(c.SubResource(sub).Apply(ctx, obj, opts...))
		},
	})
}

// conflictError is the API server's answer to an apply of a ConfigMap
// that names the UID of one deleted meanwhile.
func conflictError(obj runtime.ApplyConfiguration) error {
	cm, _ := obj.(*corev1ac.ConfigMapApplyConfiguration)
	if cm == nil {
		cm = corev1ac.ConfigMap("", "")
	}
	return apierrors.NewConflict(corev1.Resource("configmaps"), ptr.Deref(cm.Name, ""),
		fmt.Errorf("uid mismatch: the provided object specified uid %s, and no existing object was found", ptr.Deref(cm.UID, "")))
}

func isConfigMap(obj client.Object) bool {
	_, ok := obj.(*corev1.ConfigMap)
	return ok
}

// withoutWatch lets the manager's client (which cannot watch) be wrapped by
// the interceptor.
type withoutWatch struct{ client.Client }

func (withoutWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("watch is not supported")
}
