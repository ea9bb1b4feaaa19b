package controllers

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
)

func TestDesiredStatus(t *testing.T) {
	t0 := mustTime(t, "2030-01-01T00:00:00Z")
	t1 := t0.Add(time.Hour)
	ev := &eventsv1alpha1.IngresseEvent{Spec: specWith(t, sessions(session(1, "2030-01-01T00:30:00Z", "")))}
	ev.Generation = 2

	// First reconcile at t0: every condition is new.
	cm := configMapResult{state: configMapMatches, name: "event-21447", observedHash: "abc"}
	conds, next, _ := computeConditions(ev, cm, t0)
	first := desiredStatus(ev, conds, next, cm)
	if first.ObservedGeneration != 2 || first.ConfigMapRef == nil || *first.ConfigMapRef != (eventsv1alpha1.ConfigMapReference{Name: "event-21447", ContentHash: "abc"}) {
		t.Fatalf("status = %+v", first)
	}
	if first.NextSession == nil || first.NextSession.ID == nil || *first.NextSession.ID != 1 {
		t.Fatalf("nextSession = %+v", first.NextSession)
	}

	// Someone added a condition of their own; the controller owns status.
	ev.Status = *first.DeepCopy()
	ev.Status.Conditions = append(ev.Status.Conditions, metav1.Condition{Type: "Foreign", Status: metav1.ConditionTrue, Reason: "X", LastTransitionTime: metav1.NewTime(t0)})

	// At t1 the session has started: only UpcomingSession changes, and only
	// it gets a new transition time.
	conds, next, _ = computeConditions(ev, cm, t1)
	second := desiredStatus(ev, conds, next, cm)
	if second.NextSession != nil {
		t.Errorf("nextSession = %+v after the last session started", second.NextSession)
	}
	var types []string
	for _, c := range second.Conditions {
		types = append(types, c.Type)
		old := findCondition(t, first.Conditions, c.Type)
		wantLTT := old.LastTransitionTime
		if c.Type == eventsv1alpha1.ConditionUpcomingSession {
			wantLTT = metav1.NewTime(t1)
			if c.Status != metav1.ConditionFalse {
				t.Errorf("UpcomingSession still %s", c.Status)
			}
		}
		if !c.LastTransitionTime.Equal(&wantLTT) {
			t.Errorf("%s transition time %s, want %s", c.Type, c.LastTransitionTime, wantLTT)
		}
	}
	if !slices.Equal(types, conditionOrder) {
		t.Errorf("condition types %v, want %v", types, conditionOrder)
	}

	// Computing again at the same state gives an equal status: no write.
	ev.Status = *second.DeepCopy()
	conds, next, _ = computeConditions(ev, cm, t1.Add(time.Minute))
	if third := desiredStatus(ev, conds, next, cm); !equality.Semantic.DeepEqual(ev.Status, third) {
		t.Errorf("an unchanged event would be written again:\n%+v\n%+v", ev.Status, third)
	}

	// A conflicting ConfigMap is not reported as the event's.
	conflict := configMapResult{state: configMapConflict, name: "event-21447", observedHash: "abc"}
	conds, next, _ = computeConditions(ev, conflict, t1)
	if st := desiredStatus(ev, conds, next, conflict); st.ConfigMapRef != nil {
		t.Errorf("configMapRef = %+v for a ConfigMap that is not ours", st.ConfigMapRef)
	}
	// A failed write still reports what the ConfigMap holds.
	failed := configMapResult{state: configMapFailed, name: "event-21447", observedHash: "old"}
	conds, next, _ = computeConditions(ev, failed, t1)
	if st := desiredStatus(ev, conds, next, failed); st.ConfigMapRef == nil || st.ConfigMapRef.ContentHash != "old" {
		t.Errorf("configMapRef = %+v, want the old content", st.ConfigMapRef)
	}
	// No ConfigMap at all: no reference.
	none := configMapResult{state: configMapFailed, name: "event-21447"}
	conds, next, _ = computeConditions(ev, none, t1)
	if st := desiredStatus(ev, conds, next, none); st.ConfigMapRef != nil {
		t.Errorf("configMapRef = %+v without a ConfigMap", st.ConfigMapRef)
	}
}

func TestConditionEvents(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
	}
	ready := cond(eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled, "ok")
	conflict := cond(eventsv1alpha1.ConditionReady, metav1.ConditionFalse, eventsv1alpha1.ReasonConfigMapConflict, "in the way")
	applyFailed := cond(eventsv1alpha1.ConditionReady, metav1.ConditionFalse, eventsv1alpha1.ReasonConfigMapApplyFailed, "timeout")
	complete := cond(eventsv1alpha1.ConditionContentComplete, metav1.ConditionTrue, eventsv1alpha1.ReasonAllContentIncluded, "fits")
	truncated := cond(eventsv1alpha1.ConditionContentComplete, metav1.ConditionFalse, eventsv1alpha1.ReasonContentTruncated, "event.json left out")
	truncatedMore := cond(eventsv1alpha1.ConditionContentComplete, metav1.ConditionFalse, eventsv1alpha1.ReasonContentTruncated, "event.json and sessions.json left out")
	upcoming := cond(eventsv1alpha1.ConditionUpcomingSession, metav1.ConditionTrue, eventsv1alpha1.ReasonSessionScheduled, "soon")
	noUpcoming := cond(eventsv1alpha1.ConditionUpcomingSession, metav1.ConditionFalse, eventsv1alpha1.ReasonNoUpcomingSession, "over")
	salesOn := cond(eventsv1alpha1.ConditionSalesEnabled, metav1.ConditionTrue, eventsv1alpha1.ReasonSaleEnabled, "on")
	salesOff := cond(eventsv1alpha1.ConditionSalesEnabled, metav1.ConditionFalse, eventsv1alpha1.ReasonSaleDisabled, "off")

	cases := []struct {
		name          string
		before, after []metav1.Condition
		want          []string // "Type Reason"
	}{
		{"first reconcile, all well: nothing to say", nil, []metav1.Condition{ready, complete, salesOff, noUpcoming}, nil},
		{"first reconcile with problems", nil, []metav1.Condition{conflict, truncated, salesOn}, []string{"Warning ConfigMapConflict", "Warning ContentTruncated"}},
		{"unchanged: silence", []metav1.Condition{conflict, truncated, upcoming}, []metav1.Condition{conflict, truncated, upcoming}, nil},
		{"recovery and a session starting", []metav1.Condition{conflict, upcoming, salesOn}, []metav1.Condition{ready, noUpcoming, salesOff},
			[]string{"Normal Reconciled", "Normal NoUpcomingSession", "Normal SaleDisabled"}},
		{"more content left out", []metav1.Condition{truncated}, []metav1.Condition{truncatedMore}, []string{"Warning ContentTruncated"}},
		{"apply failures speak for themselves", []metav1.Condition{ready}, []metav1.Condition{applyFailed}, nil},
		{"from a failure to a conflict", []metav1.Condition{applyFailed}, []metav1.Condition{conflict}, []string{"Warning ConfigMapConflict"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range conditionEvents(tc.before, tc.after) {
				got = append(got, e.eventType+" "+e.reason)
				if !strings.Contains(e.note, "is ") {
					t.Errorf("note %q does not say the condition's state", e.note)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("events %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEventUpdateMatters(t *testing.T) {
	base := &eventsv1alpha1.IngresseEvent{}
	base.ResourceVersion, base.Generation = "10", 3
	base.Status.ObservedGeneration = 3
	base.Status.Conditions = []metav1.Condition{{Type: eventsv1alpha1.ConditionReady, Status: metav1.ConditionTrue}}

	change := func(f func(e *eventsv1alpha1.IngresseEvent)) *eventsv1alpha1.IngresseEvent {
		e := base.DeepCopy()
		e.ResourceVersion = "11"
		f(e)
		return e
	}
	now := metav1.Now()
	cases := []struct {
		name string
		obj  *eventsv1alpha1.IngresseEvent
		want bool
	}{
		{"resync", base.DeepCopy(), true},
		{"spec changed", change(func(e *eventsv1alpha1.IngresseEvent) { e.Generation = 4 }), true},
		{"conditions removed by hand", change(func(e *eventsv1alpha1.IngresseEvent) { e.Status.Conditions = nil }), true},
		{"status edited by hand", change(func(e *eventsv1alpha1.IngresseEvent) { e.Status.Conditions[0].Status = metav1.ConditionFalse }), true},
		{"being deleted", change(func(e *eventsv1alpha1.IngresseEvent) { e.DeletionTimestamp = &now }), true},
		{"annotations only", change(func(e *eventsv1alpha1.IngresseEvent) { e.Annotations = map[string]string{"a": "b"} }), false},
		{"labels only", change(func(e *eventsv1alpha1.IngresseEvent) { e.Labels = map[string]string{"a": "b"} }), false},
	}
	for _, tc := range cases {
		if got := eventUpdateMatters(base, tc.obj); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// The same on cached copies, whose status is only a summary: a
	// change to a message or a time is a change too.
	base.Spec.ID = 21447
	base.Status.Conditions[0].Message = "ConfigMap event-21447 holds the current spec."
	base.Status.ConfigMapRef = &eventsv1alpha1.ConfigMapReference{Name: "event-21447"}
	cached := func(e *eventsv1alpha1.IngresseEvent) *eventsv1alpha1.IngresseEvent {
		out, err := eventcache.Transform(e.DeepCopy())
		if err != nil {
			t.Fatal(err)
		}
		return out.(*eventsv1alpha1.IngresseEvent)
	}
	cachedCases := []struct {
		name string
		obj  *eventsv1alpha1.IngresseEvent
		want bool
	}{
		{"message edited by hand", change(func(e *eventsv1alpha1.IngresseEvent) { e.Status.Conditions[0].Message = "edited" }), true},
		{"transition time edited by hand", change(func(e *eventsv1alpha1.IngresseEvent) { e.Status.Conditions[0].LastTransitionTime = now }), true},
		{"configMapRef removed by hand", change(func(e *eventsv1alpha1.IngresseEvent) { e.Status.ConfigMapRef = nil }), true},
		{"annotations only", change(func(e *eventsv1alpha1.IngresseEvent) { e.Annotations = map[string]string{"a": "b"} }), false},
	}
	for _, tc := range cachedCases {
		if got := eventUpdateMatters(cached(base), cached(tc.obj)); got != tc.want {
			t.Errorf("cached, %s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPredicatesSkipOnlyOurOwnWrites(t *testing.T) {
	r := &IngresseEventReconciler{}
	old := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{UID: "ev", ResourceVersion: "1", Generation: 1}}
	patched := old.DeepCopy()
	patched.ResourceVersion = "2"
	patched.Status.ObservedGeneration = 1

	events := r.eventPredicate()
	r.selfWrites.record(patched)
	if events.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: patched}) {
		t.Error("our own status patch triggers a reconcile")
	}
	if !events.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: patched}) {
		t.Error("the same status change by someone else is ignored")
	}
	if !events.Create(event.CreateEvent{Object: old}) || events.Delete(event.DeleteEvent{Object: old}) {
		t.Error("creations must be reconciled, deletions left to garbage collection")
	}

	cms := r.configMapPredicate()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "cm", ResourceVersion: "7"}}
	r.selfWrites.record(cm)
	if cms.Create(event.CreateEvent{Object: cm}) {
		t.Error("our own ConfigMap creation triggers a reconcile")
	}
	edited := cm.DeepCopy()
	edited.ResourceVersion = "8"
	r.selfWrites.record(cm)
	if !cms.Update(event.UpdateEvent{ObjectOld: cm, ObjectNew: edited}) {
		t.Error("an edit by someone else is ignored")
	}
	if !cms.Delete(event.DeleteEvent{Object: cm}) || r.selfWrites.consume(cm) {
		t.Error("a deleted ConfigMap must be reconciled and forgotten")
	}
}

func TestSelfWrites(t *testing.T) {
	var s selfWrites
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "u1", ResourceVersion: "5"}}
	s.record(obj)
	other := obj.DeepCopy()
	other.ResourceVersion = "6"
	if s.consume(other) {
		t.Error("a later version (someone else's write) was taken for ours")
	}
	if !s.consume(obj) {
		t.Error("our own write was not recognised")
	}
	if s.consume(obj) {
		t.Error("our write was recognised twice")
	}
	s.record(obj)
	s.forget("u1")
	if s.consume(obj) {
		t.Error("a forgotten write was recognised")
	}
}

func TestConfigMapCacheTransform(t *testing.T) {
	data := map[string]string{"EVENT_ID": "21447", "event.json": `{"id":21447}`}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: "event-21447", Annotations: map[string]string{"keep": "me"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: FieldOwner}},
		},
		Data:       data,
		BinaryData: map[string][]byte{"bin": {0, 1}},
	}
	want := dataHash(data, cm.BinaryData)
	out, err := ConfigMapCacheTransform(cm)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.ConfigMap)
	if got.Data != nil || got.BinaryData != nil || got.ManagedFields != nil {
		t.Errorf("data, binaryData or managedFields kept: %+v", got)
	}
	if got.Annotations[AnnotationObservedDataHash] != want || len(got.Annotations) != 2 {
		t.Errorf("annotations = %v, want the observed hash and labels only", got.Annotations)
	}
	if observedDataHash(got) != want {
		t.Errorf("the cached copy hashes %s, want %s", observedDataHash(got), want)
	}
	// Idempotent.
	again, _ := ConfigMapCacheTransform(got)
	if again.(*corev1.ConfigMap).Annotations[AnnotationObservedDataHash] != want {
		t.Error("a second pass changed the hash")
	}
	// A ConfigMap read from the API server hashes the same as the cache.
	live := &corev1.ConfigMap{Data: data}
	if observedDataHash(live) != dataHash(data, nil) {
		t.Error("live ConfigMap hash differs")
	}
	// A forged annotation on a ConfigMap with data is ignored.
	forged := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationObservedDataHash: "forged"}}, Data: data}
	out, _ = ConfigMapCacheTransform(forged)
	if h := out.(*corev1.ConfigMap).Annotations[AnnotationObservedDataHash]; h != dataHash(data, nil) {
		t.Errorf("forged hash survived: %s", h)
	}
	// The strings every cached ConfigMap repeats are shared, and a
	// content hash equal to the data's is one string, not two.
	hash := dataHash(data, nil)
	owned := func() *corev1.ConfigMap {
		yes := true
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name: "event-21447", Namespace: strings.Clone("ingresse-system"),
				Labels:          map[string]string{strings.Clone(labelManagedBy): strings.Clone(managedByValue), eventsv1alpha1.LabelEventID: "21447"},
				Annotations:     map[string]string{eventsv1alpha1.AnnotationContentHash: strings.Clone(hash)},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: strings.Clone("events.ingresse.com/v1alpha1"), Kind: strings.Clone("IngresseEvent"), Name: "event-21447", Controller: &yes, BlockOwnerDeletion: &yes}},
			},
			Data: data,
		}
	}
	a, _ := ConfigMapCacheTransform(owned())
	b, _ := ConfigMapCacheTransform(owned())
	ca, cb := a.(*corev1.ConfigMap), b.(*corev1.ConfigMap)
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	if !same(ca.Namespace, cb.Namespace) ||
		!same(ca.OwnerReferences[0].Kind, cb.OwnerReferences[0].Kind) || ca.OwnerReferences[0].Controller != cb.OwnerReferences[0].Controller {
		t.Error("the namespace or the owner's kind is not shared between cached ConfigMaps")
	}
	// Of the labels, the values of the controller's own are kept, as one
	// string, and compare as the labels would.
	if ca.Labels != nil || ca.Annotations[AnnotationObservedLabels] != "ingresse-operator,-,21447" {
		t.Errorf("labels %v, observed %q; want none, and the managed ones' values with name absent", ca.Labels, ca.Annotations[AnnotationObservedLabels])
	}
	if observedLabels(ca) != observedLabels(owned()) {
		t.Errorf("the cached copy's labels read %q, the stored ConfigMap's %q", observedLabels(ca), observedLabels(owned()))
	}
	ev := &eventsv1alpha1.IngresseEvent{Spec: eventsv1alpha1.IngresseEventSpec{ID: 21447}}
	if len(desiredLabels(ev)) != len(managedLabels) || encodeManagedLabels(desiredLabels(ev)) != "ingresse-operator,ingresse-event,21447" {
		t.Errorf("desiredLabels %v and managedLabels %v disagree", desiredLabels(ev), managedLabels)
	}
	if again, _ := ConfigMapCacheTransform(ca.DeepCopy()); !reflect.DeepEqual(again, ca) {
		t.Errorf("a second transform changed the cached copy: %+v", again)
	}
	if !same(ca.Annotations[AnnotationObservedDataHash], ca.Annotations[eventsv1alpha1.AnnotationContentHash]) {
		t.Error("the observed hash is a second copy of the content hash")
	}
	if ref := ca.OwnerReferences[0]; !*ref.Controller || !*ref.BlockOwnerDeletion {
		t.Error("the owner reference lost its controller flag")
	}
	// Anything else passes through.
	tomb := "not a ConfigMap"
	if out, err := ConfigMapCacheTransform(tomb); err != nil || out != tomb {
		t.Errorf("got %v, %v", out, err)
	}
}

func TestSelfWritesStandInForACacheBehind(t *testing.T) {
	var s selfWrites
	written := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{UID: "ev", ResourceVersion: "11", Generation: 2}}
	written.Status.ObservedGeneration = 2
	s.recordStatus(written, "10")

	behind := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{UID: "ev", ResourceVersion: "10", Generation: 2}}
	s.catchUp(behind)
	if behind.ResourceVersion != "11" || behind.Status.ObservedGeneration != 2 {
		t.Errorf("a cache behind our status write was not caught up: %+v", behind)
	}
	if !s.consume(written) {
		t.Error("catching up must keep the entry until the write's own watch event")
	}

	s.recordStatus(written, "10")
	later := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{UID: "ev", ResourceVersion: "12", Generation: 3}}
	s.catchUp(later)
	if later.ResourceVersion != "12" || later.Status.ObservedGeneration != 0 {
		t.Errorf("a later version (someone else's write) was overwritten: %+v", later)
	}
	if s.consume(written) {
		t.Error("the entry must be dropped once the cache shows another version")
	}

	cmWritten := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "cm", ResourceVersion: "21"}}
	s.recordConfigMap(cmWritten, "20", "hash-b")
	cmBehind := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "cm", ResourceVersion: "20"}}
	if hash, ok := s.staleContentHash(cmBehind); !ok || hash != "hash-b" {
		t.Errorf("staleContentHash = %q, %v; want hash-b, true", hash, ok)
	}
	if _, ok := s.staleContentHash(cmWritten); ok {
		t.Error("a cache that shows our write is not behind")
	}
	s.recordConfigMap(cmWritten, "", "hash-c")
	if _, ok := s.staleContentHash(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "cm", ResourceVersion: ""}}); ok {
		t.Error("a creation has no older version to be behind")
	}
}

// TestSelfWritesHoldEventsOfAWriteInFlight: a watch event that arrives
// before its write's answer triggers nothing, and one of someone else's that
// arrives meanwhile is not lost.
func TestSelfWritesHoldEventsOfAWriteInFlight(t *testing.T) {
	var s selfWrites
	key := types.NamespacedName{Namespace: "ns", Name: "event-1"}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "event-1", UID: "cm", ResourceVersion: "5"}}

	// Our create's event first, then the create's answer.
	write := s.writing(true, key)
	if !s.consume(cm) {
		t.Error("the event of a ConfigMap being written was not held")
	}
	s.recordConfigMap(cm, "", "hash")
	write.end(cm)
	if s.takeMissed(key) {
		t.Error("our own write's event was taken for someone else's")
	}
	if s.consume(cm) {
		t.Error("our write's event was expected a second time")
	}

	// Someone else's status edit arrives while our status patch is in
	// flight; our patch's event comes after its answer.
	ev := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "event-1", UID: "ev", ResourceVersion: "7"}}
	write = s.writing(false, key)
	if !s.consume(ev) {
		t.Error("an event of the IngresseEvent being written was not held")
	}
	if s.consume(cm.DeepCopy()) {
		t.Error("a write of the event held the events of its ConfigMap")
	}
	ours := ev.DeepCopy()
	ours.ResourceVersion = "8"
	s.recordStatus(ours, "6")
	write.end(ours)
	write.end(nil) // a second end (deferred) changes nothing
	if !s.takeMissed(key) {
		t.Error("someone else's change, held during our write, was lost")
	}
	if s.takeMissed(key) {
		t.Error("a missed change was reported twice")
	}
	if !s.consume(ours) {
		t.Error("our write's event, after its answer, was not recognised")
	}

	// A failed write: whatever was held was someone else's.
	write = s.writing(false, key)
	s.consume(ev)
	write.end(nil)
	if !s.takeMissed(key) {
		t.Error("a change held during a failed write was lost")
	}
	// Nothing in flight: nothing held.
	if s.consume(ev) {
		t.Error("an event was held with no write in flight")
	}

	// An apply followed by a patch: the applied version is a step of our
	// write, both when its event is held and when the cache shows it.
	applied := cm.DeepCopy()
	applied.ResourceVersion = "30"
	patched := cm.DeepCopy()
	patched.ResourceVersion = "31"
	write = s.writing(true, key)
	if !s.consume(applied) {
		t.Error("the applied version's event was not held")
	}
	s.recordConfigMap(patched, "29", "hash-2", "30")
	write.end(patched)
	if s.takeMissed(key) {
		t.Error("the applied step of our own write was taken for someone else's change")
	}
	if hash, behind := s.staleContentHash(applied); !behind || hash != "hash-2" {
		t.Errorf("a cache at the applied step is not behind our write: %q, %v", hash, behind)
	}
	if !s.consume(applied) || !s.consume(patched) {
		t.Error("the events of our apply and patch were not recognised")
	}
}
