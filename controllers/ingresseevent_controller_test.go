package controllers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// TestControllerKeepsConfigMapAndStatusTrue runs the controller in a
// manager and plays, in order, the life of the seed event: created, its
// spec updated, its ConfigMap deleted, its ConfigMap edited by hand, its
// status conditions removed by hand.
func TestControllerKeepsConfigMapAndStatusTrue(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	startManager(t, ns, &IngresseEventReconciler{})

	data := testenv.SeedData(t, examples.EventCreate)
	ev := newEvent(ns, decodeSpec(t, data))
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ev)
	var cm *corev1.ConfigMap

	t.Run("created: ConfigMap and Ready", func(t *testing.T) {
		got := waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
		for _, c := range []struct {
			condType string
			status   metav1.ConditionStatus
			reason   string
		}{
			{eventsv1alpha1.ConditionContentComplete, metav1.ConditionTrue, eventsv1alpha1.ReasonAllContentIncluded},
			{eventsv1alpha1.ConditionSalesEnabled, metav1.ConditionTrue, eventsv1alpha1.ReasonSaleEnabled},
			{eventsv1alpha1.ConditionUpcomingSession, metav1.ConditionFalse, eventsv1alpha1.ReasonNoUpcomingSession},
		} {
			if err := conditionIs(got, c.condType, c.status, c.reason); err != nil {
				t.Error(err)
			}
		}
		if got.Status.NextSession != nil {
			t.Errorf("nextSession = %+v; the seed's only session is over", got.Status.NextSession)
		}

		var err error
		if cm, err = getConfigMap(key); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{
			"EVENT_ID": "21447", "EVENT_TITLE": "Webhook Example", "EVENT_PLACE_LAT": "-10.59", "EVENT_PLACE_LON": "-37.38",
			"EVENT_PLACE_CITY": "", "EVENT_STATUS": "private", "EVENT_ATTR_SALE_ENABLED": "true", "EVENT_ATTR_ACCEPTED_APPS": "",
			"EVENT_ATTR_RETENTION_PERCENTAGE": "1.5",
			// The API server keeps JSON numbers as int64 or float64.
			"EVENT_ATTR_RETENTION_THRESHOLD": "100000",
		} {
			if cm.Data[k] != want {
				t.Errorf("%s = %q, want %q", k, cm.Data[k], want)
			}
		}
		if ok, where := testenv.JSONEqual(data, []byte(cm.Data[keyEventJSON])); !ok {
			t.Errorf("event.json differs from the seed at %s", where)
		}
		owner := metav1.GetControllerOf(cm)
		if owner == nil || owner.UID != got.UID || owner.Kind != "IngresseEvent" || owner.APIVersion != "events.ingresse.com/v1alpha1" ||
			owner.Name != ev.Name || owner.BlockOwnerDeletion == nil || !*owner.BlockOwnerDeletion {
			t.Errorf("controller reference = %+v", owner)
		}
		for k, want := range map[string]string{
			"app.kubernetes.io/managed-by": "ingresse-operator", "app.kubernetes.io/name": "ingresse-event", eventsv1alpha1.LabelEventID: "21447",
		} {
			if cm.Labels[k] != want {
				t.Errorf("label %s = %q, want %q", k, cm.Labels[k], want)
			}
		}
		hash := cm.Annotations[eventsv1alpha1.AnnotationContentHash]
		if hash == "" || hash != dataHash(cm.Data, nil) {
			t.Errorf("content hash %q does not match the data", hash)
		}
		if _, leaked := cm.Annotations[AnnotationObservedDataHash]; leaked {
			t.Errorf("the cache-only annotation reached the API server")
		}
		if ref := got.Status.ConfigMapRef; ref == nil || ref.Name != ev.Name || ref.ContentHash != hash {
			t.Errorf("configMapRef = %+v, want %s/%s", ref, ev.Name, hash)
		}
		if !managedBy(cm, metav1.ManagedFieldsOperationUpdate) {
			t.Errorf("not created by %s: %+v", FieldOwner, cm.ManagedFields)
		}
	})

	t.Run("spec updated: ConfigMap follows, hash changes", func(t *testing.T) {
		oldHash := cm.Annotations[eventsv1alpha1.AnnotationContentHash]
		current := getEvent(t, key)
		current.Spec.Title = new("Webhook Example, moved")
		current.Spec.Attributes["saleEnabled"] = eventsv1alpha1.Attribute{Name: new("sale_enabled"), Value: jsonValue("false")}
		if err := env.Client.Update(ctx, current); err != nil {
			t.Fatal(err)
		}
		got := waitForCondition(t, key, eventsv1alpha1.ConditionSalesEnabled, metav1.ConditionFalse, eventsv1alpha1.ReasonSaleDisabled)
		if err := conditionIs(got, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled); err != nil {
			t.Error(err)
		}
		var err error
		if cm, err = getConfigMap(key); err != nil {
			t.Fatal(err)
		}
		newHash := cm.Annotations[eventsv1alpha1.AnnotationContentHash]
		if cm.Data["EVENT_TITLE"] != "Webhook Example, moved" || cm.Data["EVENT_ATTR_SALE_ENABLED"] != "false" {
			t.Errorf("ConfigMap not updated: %q %q", cm.Data["EVENT_TITLE"], cm.Data["EVENT_ATTR_SALE_ENABLED"])
		}
		if newHash == oldHash || newHash != dataHash(cm.Data, nil) || got.Status.ConfigMapRef.ContentHash != newHash {
			t.Errorf("hash %s -> %s, status says %s", oldHash, newHash, got.Status.ConfigMapRef.ContentHash)
		}
		if got.Generation < 2 {
			t.Errorf("generation %d after a spec update", got.Generation)
		}
		if !managedBy(cm, metav1.ManagedFieldsOperationApply) {
			t.Errorf("not updated by server-side apply as %s: %+v", FieldOwner, cm.ManagedFields)
		}
		waitForEvent(t, got, corev1.EventTypeNormal, eventsv1alpha1.ReasonSaleDisabled)
		// Following the spec is the expected course, not news: the
		// ConfigMapApplied Event is kept for undoing someone's edit.
		if n := countEvents(t, got, reasonConfigMapApplied); n != 0 {
			t.Errorf("%d %s Events for following a spec change, want none", n, reasonConfigMapApplied)
		}
	})

	t.Run("ConfigMap deleted: restored", func(t *testing.T) {
		if err := env.Client.Delete(ctx, cm); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the ConfigMap to come back", func() error {
			restored, err := getConfigMap(key)
			if err != nil {
				return err
			}
			if restored.UID == cm.UID {
				return errors.New("still the deleted one")
			}
			if restored.Data["EVENT_TITLE"] != "Webhook Example, moved" || !metav1.IsControlledBy(restored, getEvent(t, key)) {
				return fmt.Errorf("restored without the content or owner: %v", restored.OwnerReferences)
			}
			cm = restored
			return nil
		})
	})

	t.Run("ConfigMap edited by hand: restored", func(t *testing.T) {
		want := cm.DeepCopy()
		edited := cm.DeepCopy()
		edited.Data["EVENT_TITLE"] = "defaced"
		delete(edited.Data, "EVENT_SLUG")
		edited.Data["EXTRA"] = "added by hand"
		edited.BinaryData = map[string][]byte{"blob": {1, 2, 3}}
		edited.Labels[eventsv1alpha1.LabelEventID] = "1"
		edited.Annotations[eventsv1alpha1.AnnotationContentHash] = "forged"
		edited.Labels["team"] = "kept" // not ours: left alone
		if err := env.Client.Update(ctx, edited); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the ConfigMap to be restored", func() error {
			got, err := getConfigMap(key)
			if err != nil {
				return err
			}
			if dataHash(got.Data, got.BinaryData) != dataHash(want.Data, nil) {
				return fmt.Errorf("data not restored: EVENT_TITLE=%q EXTRA=%q binaryData=%v", got.Data["EVENT_TITLE"], got.Data["EXTRA"], got.BinaryData)
			}
			if got.Labels[eventsv1alpha1.LabelEventID] != "21447" || got.Annotations[eventsv1alpha1.AnnotationContentHash] != want.Annotations[eventsv1alpha1.AnnotationContentHash] {
				return fmt.Errorf("metadata not restored: %v %v", got.Labels, got.Annotations)
			}
			if got.Labels["team"] != "kept" {
				return fmt.Errorf("someone else's label removed: %v", got.Labels)
			}
			return nil
		})
		waitForEvent(t, getEvent(t, key), corev1.EventTypeNormal, reasonConfigMapApplied)
	})

	// The cache keeps of the labels only the managed ones' values: a change
	// to one of them alone must still be seen.
	t.Run("a managed label removed, nothing else: restored", func(t *testing.T) {
		edited, err := getConfigMap(key)
		if err != nil {
			t.Fatal(err)
		}
		delete(edited.Labels, labelManagedBy)
		edited.Labels[labelName] = "renamed"
		if err := env.Client.Update(ctx, edited); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the labels to be restored", func() error {
			got, err := getConfigMap(key)
			if err != nil {
				return err
			}
			if got.Labels[labelManagedBy] != managedByValue || got.Labels[labelName] != nameValue || got.Labels["team"] != "kept" {
				return fmt.Errorf("labels %v", got.Labels)
			}
			return nil
		})
	})

	t.Run("status conditions removed by hand: restored", func(t *testing.T) {
		current := getEvent(t, key)
		patch := client.MergeFrom(current.DeepCopy())
		current.Status.Conditions = nil
		current.Status.ConfigMapRef = nil
		if err := env.Client.Status().Patch(ctx, current, patch); err != nil {
			t.Fatal(err)
		}
		got := waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
		if len(got.Status.Conditions) != len(conditionOrder) || got.Status.ConfigMapRef == nil {
			t.Errorf("status not fully restored: %+v", got.Status)
		}
	})

	// The cache keeps only a summary of the status (type, status and
	// reason of each condition): a change to anything else must still be
	// seen.
	t.Run("a condition's message edited by hand: restored", func(t *testing.T) {
		current := getEvent(t, key)
		want := meta.FindStatusCondition(current.Status.Conditions, eventsv1alpha1.ConditionReady).Message
		patch := client.MergeFrom(current.DeepCopy())
		meta.FindStatusCondition(current.Status.Conditions, eventsv1alpha1.ConditionReady).Message = "edited by hand"
		if err := env.Client.Status().Patch(ctx, current, patch); err != nil {
			t.Fatal(err)
		}
		eventually(t, "Ready's message restored", func() error {
			got := meta.FindStatusCondition(getEvent(t, key).Status.Conditions, eventsv1alpha1.ConditionReady).Message
			if got != want {
				return fmt.Errorf("Ready's message is %q, want %q", got, want)
			}
			return nil
		})
	})
}

// TestForeignConfigMapIsLeftAlone: a ConfigMap of the event's name that the
// event does not control is never touched; the event says why it is not
// Ready, and recovers once the ConfigMap is gone.
func TestForeignConfigMapIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	mgr := startManager(t, ns, &IngresseEventReconciler{})

	foreign := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "event-21447", Namespace: ns, Labels: map[string]string{"owner": "someone-else"}},
		Data:       map[string]string{"theirs": "do not touch"},
	}
	if err := env.Client.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	ev := newEvent(ns, seedSpec(t))
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ev)
	got := waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionFalse, eventsv1alpha1.ReasonConfigMapConflict)
	if !strings.Contains(meta.FindStatusCondition(got.Status.Conditions, eventsv1alpha1.ConditionReady).Message, "Delete or rename that ConfigMap") {
		t.Errorf("the message does not say what to do: %+v", got.Status.Conditions)
	}
	if got.Status.ConfigMapRef != nil {
		t.Errorf("configMapRef = %+v for a ConfigMap that is not the event's", got.Status.ConfigMapRef)
	}
	waitForEvent(t, got, corev1.EventTypeWarning, eventsv1alpha1.ReasonConfigMapConflict)

	// A reconcile now is a no-op that does not ask to be retried, even
	// when the cache has not seen the foreign ConfigMap yet: server-side
	// apply would take it over, so the controller creates, which the API
	// server refuses.
	for _, cacheLags := range []bool{false, true} {
		counter := &writeCounter{}
		counter.hideConfigMaps.Store(cacheLags)
		r := &IngresseEventReconciler{Client: counter.wrap(mgr.GetClient()), Scheme: testenv.Scheme, apiReader: mgr.GetAPIReader()}
		res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: key})
		if err != nil || res != (ctrl.Result{}) || counter.stored() != 0 {
			t.Errorf("conflict reconcile (cache lagging: %v) = %+v, %v with %d writes stored; want no requeue, no error, no write", cacheLags, res, err, counter.stored())
		}
	}

	untouched, err := getConfigMap(key)
	if err != nil {
		t.Fatal(err)
	}
	if untouched.ResourceVersion != foreign.ResourceVersion || len(untouched.OwnerReferences) != 0 || untouched.Data["theirs"] != "do not touch" || len(untouched.Data) != 1 {
		t.Fatalf("the foreign ConfigMap was touched: resourceVersion %s -> %s, owners %v, %d keys", foreign.ResourceVersion, untouched.ResourceVersion, untouched.OwnerReferences, len(untouched.Data))
	}

	// Once it is gone, the watch on ConfigMaps brings the event back.
	if err := env.Client.Delete(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	got = waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
	if cm, err := getConfigMap(key); err != nil || !metav1.IsControlledBy(cm, got) || cm.Data["EVENT_ID"] != "21447" {
		t.Errorf("the event's own ConfigMap was not created: %v", err)
	}
}

// TestHugeDescriptionIsTruncated: a description too large for a ConfigMap
// must not wedge the event; the ConfigMap is made without event.json and
// the event says so. It runs with the default budget against the API
// server's real 1 MiB limit.
func TestHugeDescriptionIsTruncated(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	startManager(t, ns, &IngresseEventReconciler{})

	spec := seedSpec(t)
	spec.Description = new(strings.Repeat("Lorem ipsum dolor sit amet. ", 36_000)) // ~1 MB
	ev := newEvent(ns, spec)
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ev)
	got := waitForCondition(t, key, eventsv1alpha1.ConditionContentComplete, metav1.ConditionFalse, eventsv1alpha1.ReasonContentTruncated)
	if err := conditionIs(got, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled); err != nil {
		t.Error(err)
	}
	msg := meta.FindStatusCondition(got.Status.Conditions, eventsv1alpha1.ConditionContentComplete).Message
	if !strings.Contains(msg, "event.json (") {
		t.Errorf("the message does not name event.json: %s", msg)
	}
	cm, err := getConfigMap(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data[keyEventJSON]; ok {
		t.Error("event.json is in the ConfigMap")
	}
	if cm.Data["EVENT_ID"] != "21447" || cm.Data[keySessionsJSON] == "" || got.Status.ConfigMapRef == nil ||
		got.Status.ConfigMapRef.ContentHash != dataHash(cm.Data, nil) {
		t.Errorf("the rest of the content is missing or unreported: %v", got.Status.ConfigMapRef)
	}
	note := waitForEvent(t, got, corev1.EventTypeWarning, eventsv1alpha1.ReasonContentTruncated)
	if !strings.Contains(note, keyEventJSON) {
		t.Errorf("the Event does not name event.json: %s", note)
	}
}

// directReconciler drives Reconcile by hand on top of a manager's cache,
// with a fake clock and every write counted.
type directReconciler struct {
	r       *IngresseEventReconciler
	mgr     manager.Manager
	clock   *clocktesting.FakePassiveClock
	writes  *writeCounter
	events  *events.FakeRecorder
	request ctrl.Request
}

func newDirectReconciler(t *testing.T, ns string, ev *eventsv1alpha1.IngresseEvent, now time.Time) *directReconciler {
	t.Helper()
	mgr := startManager(t, ns, nil)
	d := &directReconciler{
		mgr:     mgr,
		clock:   clocktesting.NewFakePassiveClock(now),
		writes:  &writeCounter{},
		events:  events.NewFakeRecorder(100),
		request: ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ev)},
	}
	d.r = &IngresseEventReconciler{
		Client:    d.writes.wrap(mgr.GetClient()),
		Scheme:    testenv.Scheme,
		Recorder:  d.events,
		Clock:     d.clock,
		apiReader: mgr.GetAPIReader(),
	}
	if err := env.Client.Create(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	d.waitForCache(t)
	return d
}

// reconcile calls Reconcile, then waits for the cache to see what it wrote,
// as the next reconcile of a running controller would.
func (d *directReconciler) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	res, err := d.r.Reconcile(context.Background(), d.request)
	d.waitForCache(t)
	return res, err
}

// waitForCache waits until the manager's cache holds the event and its
// ConfigMap as the API server does.
func (d *directReconciler) waitForCache(t *testing.T) {
	t.Helper()
	eventually(t, "the cache to catch up", func() error {
		for _, pair := range [][2]client.Object{
			{&eventsv1alpha1.IngresseEvent{}, &eventsv1alpha1.IngresseEvent{}},
			{&corev1.ConfigMap{}, &corev1.ConfigMap{}},
		} {
			liveErr := env.Client.Get(context.Background(), d.request.NamespacedName, pair[0])
			cachedErr := d.mgr.GetClient().Get(context.Background(), d.request.NamespacedName, pair[1])
			if apierrors.IsNotFound(liveErr) && apierrors.IsNotFound(cachedErr) {
				continue
			}
			if liveErr != nil || cachedErr != nil {
				return fmt.Errorf("reading live and cached: %w", errors.Join(liveErr, cachedErr))
			}
			if pair[0].GetResourceVersion() != pair[1].GetResourceVersion() {
				return fmt.Errorf("%T at %s, cached %s", pair[0], pair[0].GetResourceVersion(), pair[1].GetResourceVersion())
			}
		}
		return nil
	})
}

func (d *directReconciler) resourceVersions(t *testing.T) (string, string) {
	t.Helper()
	cm, err := getConfigMap(d.request.NamespacedName)
	if err != nil {
		t.Fatal(err)
	}
	return getEvent(t, d.request.NamespacedName).ResourceVersion, cm.ResourceVersion
}

// TestSecondReconcileWritesNothing proves that reconciling an unchanged
// event makes no write at all: not the ConfigMap, not the status.
func TestSecondReconcileWritesNothing(t *testing.T) {
	ns := env.Namespace(t)
	d := newDirectReconciler(t, ns, newEvent(ns, seedSpec(t)), time.Now())

	if _, err := d.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if n := d.writes.count(); n != 2 {
		t.Errorf("first reconcile made %d writes, want 2 (apply the ConfigMap, patch the status)", n)
	}
	evRV, cmRV := d.resourceVersions(t)

	for i := range 2 {
		before := d.writes.count()
		res, err := d.reconcile(t)
		if err != nil || res != (ctrl.Result{}) {
			t.Fatalf("reconcile %d: %+v, %v", i+2, res, err)
		}
		if n := d.writes.count() - before; n != 0 {
			t.Errorf("reconcile %d of an unchanged event made %d writes", i+2, n)
		}
	}
	if ev2, cm2 := d.resourceVersions(t); ev2 != evRV || cm2 != cmRV {
		t.Errorf("resourceVersions moved: event %s -> %s, ConfigMap %s -> %s", evRV, ev2, cmRV, cm2)
	}
	if n := len(d.events.Events); n != 0 {
		t.Errorf("%d Events recorded for creating a ConfigMap and confirming it, want none", n)
	}
}

// TestSessionBoundaryFlipsUpcomingSession crosses two session starts with a
// fake clock: the controller asks to be requeued exactly at each start, and
// after it the condition, status.nextSession and the ConfigMap move on.
func TestSessionBoundaryFlipsUpcomingSession(t *testing.T) {
	ns := env.Namespace(t)
	t0 := mustTime(t, "2031-03-01T20:00:00Z")
	spec := seedSpec(t)
	spec.Sessions = []eventsv1alpha1.Session{
		{ID: new(int64(1)), DateTime: new("2031-02-01T20:00:00+00:00"), Status: new("finished")},
		{ID: new(int64(3)), DateTime: new("2031-03-01T20:00:00-03:00"), Status: new("available")}, // 23:00 UTC
		{ID: new(int64(2)), DateTime: new("2031-03-01T21:30:00+00:00"), Status: new("available")},
		{ID: new(int64(4)), DateTime: new("2031-03-01T22:00:00Z"), Status: new("cancelled")},
	}
	d := newDirectReconciler(t, ns, newEvent(ns, spec), t0)
	key := d.request.NamespacedName

	steps := []struct {
		advance     time.Duration
		wantRequeue time.Duration
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantNext    *eventsv1alpha1.SessionReference
	}{
		{0, 90 * time.Minute, metav1.ConditionTrue, eventsv1alpha1.ReasonSessionScheduled, &eventsv1alpha1.SessionReference{ID: new(int64(2)), DateTime: "2031-03-01T21:30:00+00:00"}},
		{90 * time.Minute, 90 * time.Minute, metav1.ConditionTrue, eventsv1alpha1.ReasonSessionScheduled, &eventsv1alpha1.SessionReference{ID: new(int64(3)), DateTime: "2031-03-01T20:00:00-03:00"}},
		{90 * time.Minute, 0, metav1.ConditionFalse, eventsv1alpha1.ReasonNoUpcomingSession, nil},
	}
	for i, step := range steps {
		d.clock.SetTime(d.clock.Now().Add(step.advance))
		res, err := d.reconcile(t)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if res.RequeueAfter != step.wantRequeue {
			t.Errorf("step %d: requeueAfter = %s, want %s", i, res.RequeueAfter, step.wantRequeue)
		}
		ev := getEvent(t, key)
		if err := conditionIs(ev, eventsv1alpha1.ConditionUpcomingSession, step.wantStatus, step.wantReason); err != nil {
			t.Errorf("step %d: %v", i, err)
		}
		if got := ev.Status.NextSession; !reflect.DeepEqual(got, step.wantNext) {
			t.Errorf("step %d: nextSession = %+v, want %+v", i, got, step.wantNext)
		}
		cm, err := getConfigMap(key)
		if err != nil {
			t.Fatal(err)
		}
		wantID, wantTime := "", ""
		if step.wantNext != nil {
			wantID, wantTime = fmt.Sprint(*step.wantNext.ID), step.wantNext.DateTime
		}
		if cm.Data[keyNextSessionID] != wantID || cm.Data[keyNextSessionDateTime] != wantTime {
			t.Errorf("step %d: ConfigMap says next session %q at %q", i, cm.Data[keyNextSessionID], cm.Data[keyNextSessionDateTime])
		}
		if ev.Status.ConfigMapRef == nil || ev.Status.ConfigMapRef.ContentHash != dataHash(cm.Data, nil) {
			t.Errorf("step %d: configMapRef %+v does not match the ConfigMap", i, ev.Status.ConfigMapRef)
		}
	}
	// The flip to False is a notable transition.
	var last string
	for len(d.events.Events) > 0 {
		last = <-d.events.Events
	}
	if !strings.Contains(last, "Normal NoUpcomingSession") {
		t.Errorf("last Event %q, want the UpcomingSession flip", last)
	}
}

// TestApplyFailureIsRetriedAndReported: a failed write is reported in the
// same single status patch and returned for controller-runtime's backoff.
func TestApplyFailureIsRetriedAndReported(t *testing.T) {
	ns := env.Namespace(t)
	d := newDirectReconciler(t, ns, newEvent(ns, seedSpec(t)), time.Now())
	var unavailable error = apierrors.NewServiceUnavailable("etcd is having a moment")
	d.writes.failConfigMapWrites.Store(&unavailable)

	_, err := d.reconcile(t)
	if !errors.Is(err, unavailable) || !strings.Contains(err.Error(), ns+"/event-21447") {
		t.Fatalf("error %v does not wrap the API error with the ConfigMap's name", err)
	}
	if n := d.writes.count(); n != 2 {
		t.Errorf("%d writes, want the failed create and one status patch", n)
	}
	ev := getEvent(t, d.request.NamespacedName)
	if err := conditionIs(ev, eventsv1alpha1.ConditionReady, metav1.ConditionFalse, eventsv1alpha1.ReasonConfigMapApplyFailed); err != nil {
		t.Fatal(err)
	}
	if msg := meta.FindStatusCondition(ev.Status.Conditions, eventsv1alpha1.ConditionReady).Message; !strings.Contains(msg, "etcd is having a moment") {
		t.Errorf("message %q does not carry the cause", msg)
	}
	if got := <-d.events.Events; !strings.HasPrefix(got, "Warning ConfigMapApplyFailed") {
		t.Errorf("Event %q, want a ConfigMapApplyFailed warning", got)
	}

	d.writes.failConfigMapWrites.Store(nil)
	if _, err := d.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if err := conditionIs(getEvent(t, d.request.NamespacedName), eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled); err != nil {
		t.Error(err)
	}

	// The same for the apply that follows a spec change.
	ev = getEvent(t, d.request.NamespacedName)
	ev.Spec.Title = new("Webhook Example, moved")
	if err := env.Client.Update(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	d.waitForCache(t) // as the update's watch event would
	d.writes.failConfigMapWrites.Store(&unavailable)
	if _, err := d.reconcile(t); !errors.Is(err, unavailable) || !strings.Contains(err.Error(), "applying ConfigMap "+ns+"/event-21447") {
		t.Fatalf("error %v does not wrap the API error of the apply", err)
	}
	if err := conditionIs(getEvent(t, d.request.NamespacedName), eventsv1alpha1.ConditionReady, metav1.ConditionFalse, eventsv1alpha1.ReasonConfigMapApplyFailed); err != nil {
		t.Error(err)
	}
	d.writes.failConfigMapWrites.Store(nil)
	if _, err := d.reconcile(t); err != nil {
		t.Fatal(err)
	}
	cm, err := getConfigMap(d.request.NamespacedName)
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["EVENT_TITLE"] != "Webhook Example, moved" {
		t.Errorf("ConfigMap title %q after the retried apply", cm.Data["EVENT_TITLE"])
	}
}

// TestInvalidSpecIsPermanent: a spec whose core fields cannot fit the
// budget is marked InvalidSpec, no ConfigMap is made and nothing is
// retried.
func TestInvalidSpecIsPermanent(t *testing.T) {
	ns := env.Namespace(t)
	spec := seedSpec(t)
	spec.Place.Name = ptrTo(strings.Repeat("Sergipe ", 500))
	d := newDirectReconciler(t, ns, newEvent(ns, spec), time.Now())
	d.r.MaxConfigMapDataBytes = 2048

	res, err := d.reconcile(t)
	if err != nil || res != (ctrl.Result{}) {
		t.Fatalf("reconcile = %+v, %v; want no error and no requeue", res, err)
	}
	ev := getEvent(t, d.request.NamespacedName)
	if err := conditionIs(ev, eventsv1alpha1.ConditionReady, metav1.ConditionFalse, eventsv1alpha1.ReasonInvalidSpec); err != nil {
		t.Fatal(err)
	}
	if err := conditionIs(ev, eventsv1alpha1.ConditionContentComplete, metav1.ConditionUnknown, eventsv1alpha1.ReasonInvalidSpec); err != nil {
		t.Error(err)
	}
	if _, err := getConfigMap(d.request.NamespacedName); !apierrors.IsNotFound(err) {
		t.Errorf("a ConfigMap was made: %v", err)
	}
	if got := <-d.events.Events; !strings.HasPrefix(got, "Warning InvalidSpec") {
		t.Errorf("Event %q, want an InvalidSpec warning", got)
	}
}

// TestDeletedEventIsLeftToGarbageCollection: a reconcile of an event that
// is gone, or going, writes nothing.
func TestDeletedEventIsLeftToGarbageCollection(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	ev := newEvent(ns, seedSpec(t))
	ev.Finalizers = []string{"test.ingresse.com/hold"} // keeps it in deletion
	d := newDirectReconciler(t, ns, ev, time.Now())
	if err := env.Client.Delete(ctx, ev); err != nil {
		t.Fatal(err)
	}
	d.waitForCache(t)
	if res, err := d.reconcile(t); err != nil || res != (ctrl.Result{}) || d.writes.count() != 0 {
		t.Errorf("reconcile of a deleting event = %+v, %v, %d writes", res, err, d.writes.count())
	}
	ev = getEvent(t, d.request.NamespacedName)
	ev.Finalizers = nil
	if err := env.Client.Update(ctx, ev); err != nil {
		t.Fatal(err)
	}
	d.waitForCache(t)
	missing := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "event-404"}}
	for _, req := range []ctrl.Request{d.request, missing} {
		if res, err := d.r.Reconcile(ctx, req); err != nil || res != (ctrl.Result{}) || d.writes.count() != 0 {
			t.Errorf("reconcile of %s = %+v, %v, %d writes", req, res, err, d.writes.count())
		}
	}
}

func jsonValue(raw string) *apiextensionsv1.JSON {
	return &apiextensionsv1.JSON{Raw: []byte(raw)}
}

// managedBy reports whether the controller's field manager owns fields of cm
// through operation op.
func managedBy(cm *corev1.ConfigMap, op metav1.ManagedFieldsOperationType) bool {
	for _, f := range cm.ManagedFields {
		if f.Manager == FieldOwner && f.Operation == op {
			return true
		}
	}
	return false
}

// TestKeyNoLongerWantedIsRemoved: a key the ConfigMap was created with and
// the spec no longer yields (an attribute Ingresse dropped) is removed,
// which server-side apply alone would not do for a key the create set; and
// that is the controller following the spec, not undoing an edit: no
// ConfigMapApplied Event, no write beyond the apply and its patch.
func TestKeyNoLongerWantedIsRemoved(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	startManager(t, ns, &IngresseEventReconciler{})
	ev := newEvent(ns, seedSpec(t))
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ev)
	waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
	cm, err := getConfigMap(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data["EVENT_ATTR_SALE_ENABLED"]; !ok {
		t.Fatalf("the seed's ConfigMap has no EVENT_ATTR_SALE_ENABLED: %v", cm.Data)
	}

	current := getEvent(t, key)
	delete(current.Spec.Attributes, "saleEnabled")
	if err := env.Client.Update(ctx, current); err != nil {
		t.Fatal(err)
	}
	eventually(t, "EVENT_ATTR_SALE_ENABLED removed", func() error {
		got := getEvent(t, key)
		cm, err := getConfigMap(key)
		if err != nil {
			return err
		}
		if _, ok := cm.Data["EVENT_ATTR_SALE_ENABLED"]; ok {
			return fmt.Errorf("still there")
		}
		if got.Status.ObservedGeneration != got.Generation || got.Status.ConfigMapRef == nil ||
			got.Status.ConfigMapRef.ContentHash != dataHash(cm.Data, nil) || cm.Annotations[eventsv1alpha1.AnnotationContentHash] != dataHash(cm.Data, nil) {
			return fmt.Errorf("status %+v does not describe the ConfigMap yet", got.Status)
		}
		return nil
	})
	settled, err := getConfigMap(key)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a redundant reconcile would write by now
	again, err := getConfigMap(key)
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != settled.ResourceVersion {
		t.Errorf("the ConfigMap was written again after it settled: %s -> %s", settled.ResourceVersion, again.ResourceVersion)
	}
	if n := countEvents(t, current, reasonConfigMapApplied); n != 0 {
		t.Errorf("%d %s Events for following the spec, want none", n, reasonConfigMapApplied)
	}
}

// TestConfigMapReplacedBehindTheCacheIsNotTakenOver: the event's ConfigMap
// is deleted and someone else's created under its name, and the spec
// changes, before the cache sees any of it. The forced apply the cached
// ConfigMap calls for must not land on theirs.
func TestConfigMapReplacedBehindTheCacheIsNotTakenOver(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	d := newDirectReconciler(t, ns, newEvent(ns, seedSpec(t)), time.Now())
	key := d.request.NamespacedName
	if _, err := d.reconcile(t); err != nil {
		t.Fatal(err)
	}
	ours, err := getConfigMap(key)
	if err != nil {
		t.Fatal(err)
	}

	ev := getEvent(t, key)
	ev.Spec.Title = new(*ev.Spec.Title + " (moved)")
	if err := env.Client.Update(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, ours); err != nil {
		t.Fatal(err)
	}
	foreign := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: ns, Labels: map[string]string{"owner": "someone-else"}},
		Data:       map[string]string{"theirs": "do not touch"},
	}
	if err := env.Client.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	d.writes.staleConfigMap.Store(ours)
	d.waitForCache(t) // the event's new spec; ConfigMaps still read as ours

	res, err := d.r.Reconcile(ctx, d.request)
	untouched, getErr := getConfigMap(key)
	if getErr != nil {
		t.Fatal(getErr)
	}
	if untouched.ResourceVersion != foreign.ResourceVersion || len(untouched.OwnerReferences) != 0 || len(untouched.Data) != 1 {
		t.Fatalf("the foreign ConfigMap was taken over: resourceVersion %s -> %s, owners %v, keys %d", foreign.ResourceVersion, untouched.ResourceVersion, untouched.OwnerReferences, len(untouched.Data))
	}
	// Refused as a write conflict: retried with backoff, quietly.
	//nolint:staticcheck // Requeue is what a tolerated conflict returns
	if err != nil || !res.Requeue {
		t.Fatalf("reconcile = %+v, %v; want a retry, without an error; conditions %+v", res, err, getEvent(t, key).Status.Conditions)
	}
	if got := getEvent(t, key); meta.IsStatusConditionTrue(got.Status.Conditions, eventsv1alpha1.ConditionReady) && got.Status.ObservedGeneration == got.Generation {
		t.Errorf("Ready=True for generation %d while its ConfigMap is someone else's", got.Generation)
	}

	// Once the cache shows theirs, the event says so and waits.
	d.writes.staleConfigMap.Store(nil)
	if res, err := d.reconcile(t); err != nil || res != (ctrl.Result{}) {
		t.Fatalf("reconcile with the cache caught up: %+v, %v", res, err)
	}
	if err := conditionIs(getEvent(t, key), eventsv1alpha1.ConditionReady, metav1.ConditionFalse, eventsv1alpha1.ReasonConfigMapConflict); err != nil {
		t.Error(err)
	}
}
