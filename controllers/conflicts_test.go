package controllers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// TestWriteConflictsAreRetriedQuietly runs the controller and answers one,
// then two, of its ConfigMap applies with 409 Conflict, as the API server
// answers an apply naming a ConfigMap deleted behind the cache. Nothing
// else changes, so only the controller's own requeue can bring it back:
// each time the event converges, and no version of it the API server
// stored on the way says Ready=False, and no Warning Event is recorded.
func TestWriteConflictsAreRetriedQuietly(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	writes := &writeCounter{}
	mgr := newManager(t, env.Config, ns)
	if err := (&IngresseEventReconciler{Client: writes.wrap(mgr.GetClient())}).SetupWithManager(mgr, Options{}); err != nil {
		t.Fatal(err)
	}
	runManager(t, mgr)

	ev := newEvent(ns, seedSpec(t))
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ev)
	waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
	versions := watchEvents(t, ns)

	for n := int64(1); n < conflictsBeforeFailure; n++ {
		current := getEvent(t, key)
		current.Spec.Title = new(fmt.Sprintf("Webhook Example, take %d", n))
		writes.conflictsLeft.Store(n)
		if err := env.Client.Update(ctx, current); err != nil {
			t.Fatal(err)
		}
		got := waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
		if left := writes.conflictsLeft.Load(); left != 0 {
			t.Fatalf("%d of the %d conflicts were never met", left, n)
		}
		if cm, err := getConfigMap(key); err != nil || cm.Data["EVENT_TITLE"] != *current.Spec.Title {
			t.Fatalf("the ConfigMap does not hold the new title after %d conflicts: %v", n, err)
		}
		for _, v := range versions.until(t, got.ResourceVersion) {
			if c := meta.FindStatusCondition(v.Status.Conditions, eventsv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("after %d conflicts, resourceVersion %s was stored with Ready %+v", n, v.ResourceVersion, c)
			}
		}
	}
	time.Sleep(time.Second) // the recorder writes Events in the background
	if w := warnings(t, ev); len(w) != 0 {
		t.Errorf("Warning Events for conflicts that were retried: %v", w)
	}
}

// TestLastingWriteConflictIsReported answers every apply with 409 Conflict:
// the first conflictsBeforeFailure-1 reconciles ask for a retry and write
// nothing else, the next reports ConfigMapApplyFailed, with a Warning
// Event, and returns the error; the reconciles after it keep reporting. A
// success ends the streak: the next conflict is quiet again.
func TestLastingWriteConflictIsReported(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	d := newDirectReconciler(t, ns, newEvent(ns, seedSpec(t)), time.Now())
	if _, err := d.reconcile(t); err != nil {
		t.Fatal(err)
	}
	retitle := func(title string) {
		t.Helper()
		ev := getEvent(t, d.request.NamespacedName)
		ev.Spec.Title = new(title)
		if err := env.Client.Update(ctx, ev); err != nil {
			t.Fatal(err)
		}
		d.waitForCache(t) // as the update's watch event would
	}
	retitle("Webhook Example, moved")
	d.writes.conflictsLeft.Store(math.MaxInt64)

	for i := 1; i < conflictsBeforeFailure; i++ {
		evRV, _ := d.resourceVersions(t)
		stored := d.writes.stored()
		res, err := d.reconcile(t)
		//nolint:staticcheck // Requeue is what a tolerated conflict returns
		if err != nil || !res.Requeue || res.RequeueAfter != 0 {
			t.Fatalf("conflict %d: reconcile = %+v, %v; want a rate-limited requeue and no error", i, res, err)
		}
		if now, _ := d.resourceVersions(t); now != evRV || d.writes.stored() != stored {
			t.Errorf("conflict %d: %d writes stored, event resourceVersion %s -> %s; want none", i, d.writes.stored()-stored, evRV, now)
		}
		if n := len(d.events.Events); n != 0 {
			t.Errorf("conflict %d: %d Events recorded: %s", i, n, <-d.events.Events)
		}
	}

	for i := conflictsBeforeFailure; i <= conflictsBeforeFailure+1; i++ {
		_, err := d.reconcile(t)
		if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), ns+"/event-21447") {
			t.Fatalf("conflict %d: error %v, want the conflict wrapped with the ConfigMap's name", i, err)
		}
		ev := getEvent(t, d.request.NamespacedName)
		if err := conditionIs(ev, eventsv1alpha1.ConditionReady, metav1.ConditionFalse, eventsv1alpha1.ReasonConfigMapApplyFailed); err != nil {
			t.Fatalf("conflict %d: %v", i, err)
		}
		if msg := meta.FindStatusCondition(ev.Status.Conditions, eventsv1alpha1.ConditionReady).Message; !strings.Contains(msg, fmt.Sprintf("met a conflict %d or more times in a row", conflictsBeforeFailure)) ||
			!strings.Contains(msg, "uid mismatch") {
			t.Errorf("conflict %d: message %q does not say the conflict lasts nor carry its cause", i, msg)
		}
		select {
		case got := <-d.events.Events:
			if !strings.HasPrefix(got, "Warning ConfigMapApplyFailed") {
				t.Errorf("conflict %d: Event %q, want a ConfigMapApplyFailed warning", i, got)
			}
		default:
			t.Errorf("conflict %d: no Event", i)
		}
	}

	d.writes.conflictsLeft.Store(0)
	if _, err := d.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if err := conditionIs(getEvent(t, d.request.NamespacedName), eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled); err != nil {
		t.Fatal(err)
	}
	for len(d.events.Events) > 0 {
		<-d.events.Events // the recovery's Normal Reconciled
	}

	retitle("Webhook Example, moved again")
	d.writes.conflictsLeft.Store(1)
	//nolint:staticcheck // Requeue is what a tolerated conflict returns
	if res, err := d.reconcile(t); err != nil || !res.Requeue {
		t.Fatalf("the first conflict after a success: %+v, %v; want a quiet requeue", res, err)
	}
	if n := len(d.events.Events); n != 0 {
		t.Errorf("the first conflict after a success recorded %d Events", n)
	}
}

// TestConflictCountEndsWithTheEvent: what is counted about an event in a
// streak of conflicts is dropped when the event is deleted, whether the
// deletion is seen by the watch or by a reconcile that finds it gone.
func TestConflictCountEndsWithTheEvent(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	d := newDirectReconciler(t, ns, newEvent(ns, seedSpec(t)), time.Now())
	if _, err := d.reconcile(t); err != nil {
		t.Fatal(err)
	}
	ev := getEvent(t, d.request.NamespacedName)
	ev.Spec.Title = new(*ev.Spec.Title + " (moved)")
	if err := env.Client.Update(ctx, ev); err != nil {
		t.Fatal(err)
	}
	d.waitForCache(t)
	d.writes.conflictsLeft.Store(math.MaxInt64)
	counted := func() int {
		d.r.conflicts.mu.Lock()
		defer d.r.conflicts.mu.Unlock()
		return d.r.conflicts.n[d.request.NamespacedName]
	}

	if _, err := d.reconcile(t); err != nil || counted() != 1 {
		t.Fatalf("after a conflict: %v, counted %d", err, counted())
	}
	if d.r.eventPredicate().Delete(event.DeleteEvent{Object: ev}) || counted() != 0 || len(d.r.conflicts.n) != 0 {
		t.Errorf("the watch saw the event deleted, and its count stays: %d", counted())
	}

	if _, err := d.reconcile(t); err != nil || counted() != 1 {
		t.Fatalf("after a conflict: %v, counted %d", err, counted())
	}
	if err := env.Client.Delete(ctx, ev); err != nil {
		t.Fatal(err)
	}
	d.waitForCache(t)
	if res, err := d.reconcile(t); err != nil || res != (ctrl.Result{}) {
		t.Fatalf("reconcile of a deleted event: %+v, %v", res, err)
	}
	if len(d.r.conflicts.n) != 0 {
		t.Errorf("a reconcile found the event gone, and its count stays: %v", d.r.conflicts.n)
	}
}

func TestConflictStreaks(t *testing.T) {
	conflicted := configMapResult{state: configMapFailed, conflicted: true}
	unavailable := configMapResult{state: configMapFailed}
	matches := configMapResult{state: configMapMatches}
	foreign := configMapResult{state: configMapConflict}
	quiet := make([]bool, conflictsBeforeFailure-1)
	for i := range quiet {
		quiet[i] = true
	}
	repeat := func(cm configMapResult, n int) []configMapResult {
		out := make([]configMapResult, n)
		for i := range out {
			out[i] = cm
		}
		return out
	}
	cases := []struct {
		name     string
		outcomes []configMapResult
		want     []bool // tolerate's answers
	}{
		{"conflicts in a row: quiet, then reported, then still reported",
			repeat(conflicted, conflictsBeforeFailure+1), append(append([]bool{}, quiet...), false, false)},
		{"a success ends the streak",
			append(append(repeat(conflicted, conflictsBeforeFailure-1), matches), conflicted), append(append([]bool{}, quiet...), false, true)},
		{"another failure ends it, and is never tolerated",
			append(append(repeat(conflicted, conflictsBeforeFailure-1), unavailable), conflicted), append(append([]bool{}, quiet...), false, true)},
		{"a foreign ConfigMap is not a write conflict",
			[]configMapResult{foreign, conflicted}, []bool{false, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c conflictStreaks
			key := types.NamespacedName{Namespace: "ns", Name: "event-1"}
			other := types.NamespacedName{Namespace: "ns", Name: "event-2"}
			for i, cm := range tc.outcomes {
				if got := c.tolerate(key, cm); got != tc.want[i] {
					t.Errorf("outcome %d: tolerate = %v, want %v", i, got, tc.want[i])
				}
				// Another event's conflicts count apart.
				if !c.tolerate(other, conflicted) {
					t.Errorf("outcome %d: another event's first conflict was reported", i)
				}
				c.forget(other)
			}
			c.forget(key)
			if len(c.n) != 0 {
				t.Errorf("%d entries left after forget", len(c.n))
			}
		})
	}
}

func TestWriteConflict(t *testing.T) {
	cm := corev1.Resource("configmaps")
	replacedErr := apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("ConfigMap").GroupKind(), "event-1",
		[]*field.Error{field.Invalid(field.NewPath("metadata", "uid"), "b", "field is immutable")})
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"409 Conflict, wrapped", fmt.Errorf("applying ConfigMap ns/event-1: %w", apierrors.NewConflict(cm, "event-1", errors.New("uid mismatch"))), true},
		{"replaced: uid is immutable", fmt.Errorf("applying: %w", replacedErr), true},
		{"another invalid field", apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("ConfigMap").GroupKind(), "event-1",
			[]*field.Error{field.Forbidden(field.NewPath("data"), "immutable")}), false},
		{"already exists", apierrors.NewAlreadyExists(cm, "event-1"), false},
		{"unavailable", apierrors.NewServiceUnavailable("etcd"), false},
	} {
		if got := writeConflict(tc.err); got != tc.want {
			t.Errorf("%s: writeConflict = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// eventVersions is a watch on the IngresseEvents of a namespace: every
// version the API server stores.
type eventVersions struct{ w watch.Interface }

func watchEvents(t *testing.T, ns string) eventVersions {
	t.Helper()
	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(context.Background(), &eventsv1alpha1.IngresseEventList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return eventVersions{w}
}

// until returns the versions delivered since the last call, up to the one
// at resourceVersion rv.
func (v eventVersions) until(t *testing.T, rv string) []*eventsv1alpha1.IngresseEvent {
	t.Helper()
	var out []*eventsv1alpha1.IngresseEvent
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-v.w.ResultChan():
			ev, isEvent := e.Object.(*eventsv1alpha1.IngresseEvent)
			if !ok || !isEvent {
				t.Fatalf("the watch ended: %+v", e.Object)
			}
			out = append(out, ev)
			if ev.ResourceVersion == rv {
				return out
			}
		case <-timeout:
			t.Fatalf("resourceVersion %s never came through the watch", rv)
		}
	}
}

// warnings lists the Warning Events recorded on ev, as "Reason: note".
func warnings(t *testing.T, ev *eventsv1alpha1.IngresseEvent) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ev.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.UID == ev.UID && e.Type == corev1.EventTypeWarning {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}
