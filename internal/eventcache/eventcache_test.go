package eventcache

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// stored is Ingresse's event-create example as a stored IngresseEvent.
func stored(t testing.TB) *eventsv1alpha1.IngresseEvent {
	t.Helper()
	var envelope struct {
		Data eventsv1alpha1.IngresseEventSpec `json:"data"`
	}
	if err := json.Unmarshal(examples.EventCreate, &envelope); err != nil {
		t.Fatal(err)
	}
	return &eventsv1alpha1.IngresseEvent{
		ObjectMeta: metav1.ObjectMeta{
			Name: "event-21447", Namespace: "ns", ResourceVersion: "7",
			Annotations:   map[string]string{"example.com/note": "keep"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "someone"}},
		},
		Spec: envelope.Data,
	}
}

// Transform strips the spec and managedFields and nothing else of the
// metadata; applied twice it changes nothing more.
func TestTransform(t *testing.T) {
	ev := stored(t)
	annotationsBefore := ev.Annotations
	out, err := Transform(ev)
	if err != nil {
		t.Fatal(err)
	}
	cached := out.(*eventsv1alpha1.IngresseEvent)
	if !Elided(cached) || cached.Spec.ID != 0 || cached.Spec.Title != nil || cached.ManagedFields != nil ||
		cached.Annotations["example.com/note"] != "keep" || cached.Name != "event-21447" || cached.ResourceVersion != "7" {
		t.Fatalf("cached copy: %+v", cached)
	}
	if _, ok := annotationsBefore[AnnotationStatusDigest]; ok {
		t.Error("the transform wrote into the decoded object's annotation map instead of a copy")
	}
	again, _ := Transform(cached.DeepCopy())
	if !reflect.DeepEqual(again, cached) {
		t.Errorf("a second transform changed the cached copy: %+v", again)
	}
	cm := &corev1.ConfigMap{Data: map[string]string{"a": "b"}}
	if out, _ := Transform(cm); out.(*corev1.ConfigMap).Data["a"] != "b" {
		t.Error("a ConfigMap was changed")
	}
}

// An object with its spec is never taken for a cached copy, whatever
// annotations someone set on it.
func TestHandSetAnnotationsAreNotTrusted(t *testing.T) {
	ev := stored(t)
	ev.Annotations[AnnotationStatusDigest] = "00"
	ev.Annotations[AnnotationConditions] = "Ready=True/Reconciled"
	if Elided(ev) {
		t.Fatal("an object with its spec counts as stripped")
	}
	ev.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Pending"}}
	if got := Conditions(ev, nil); len(got) != 1 || got[0].Status != metav1.ConditionFalse {
		t.Errorf("Conditions read the hand-set annotation: %+v", got)
	}
}

// WithSpec returns an object that has its spec as it is, without a read.
func TestWithSpecKeepsAWholeObject(t *testing.T) {
	ev := stored(t)
	got, err := WithSpec(context.Background(), nil, ev)
	if err != nil || got != ev {
		t.Fatalf("WithSpec = %p, %v; want the object itself", got, err)
	}
	cached, _ := Transform(stored(t))
	if _, err := WithSpec(context.Background(), nil, cached.(*eventsv1alpha1.IngresseEvent)); err == nil {
		t.Fatal("a cached copy with no reader to read its spec was accepted")
	}
}

// The cache keeps of the status what is read from it, and a digest of the
// rest; the receiver's cache keeps none of it.
func TestTransformSummarisesTheStatus(t *testing.T) {
	ev := stored(t)
	next := int64(5)
	ev.Status = eventsv1alpha1.IngresseEventStatus{
		ObservedGeneration: 2,
		Conditions: []metav1.Condition{{
			Type: eventsv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: eventsv1alpha1.ReasonReconciled,
			Message: "ConfigMap event-21447 holds the current spec.", LastTransitionTime: metav1.Now(), ObservedGeneration: 2,
		}},
		ConfigMapRef: &eventsv1alpha1.ConfigMapReference{Name: "event-21447", ContentHash: "abc"},
		NextSession:  &eventsv1alpha1.SessionReference{ID: &next, DateTime: "2030-01-01T00:00:00Z"},
	}
	out, _ := Transform(ev.DeepCopy())
	cached := out.(*eventsv1alpha1.IngresseEvent)
	want := metav1.Condition{Type: eventsv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: eventsv1alpha1.ReasonReconciled}
	if cached.Status.Conditions != nil {
		t.Errorf("the cached copy keeps its conditions: %+v", cached.Status.Conditions)
	}
	memo := map[string][]metav1.Condition{}
	if got := Conditions(cached, memo); len(got) != 1 || got[0] != want || len(memo) != 1 {
		t.Errorf("cached conditions %+v, want only %+v", got, want)
	}
	if got := Conditions(ev, nil); len(got) != 1 || got[0].Message == "" {
		t.Errorf("an object with its spec gives its own conditions, got %+v", got)
	}
	if cached.Status.ObservedGeneration != 2 || cached.Status.NextSession == nil || cached.Status.ConfigMapRef != nil {
		t.Errorf("cached status %+v", cached.Status)
	}
	if cached.Annotations[AnnotationStatusDigest] == "" {
		t.Fatal("no status digest")
	}

	edited := ev.DeepCopy()
	edited.Status.Conditions[0].Message = "edited"
	out, _ = Transform(edited)
	if !StatusChanged(cached, out.(*eventsv1alpha1.IngresseEvent)) {
		t.Error("a changed message is not a changed status")
	}
	out, _ = Transform(ev.DeepCopy())
	if StatusChanged(cached, out.(*eventsv1alpha1.IngresseEvent)) {
		t.Error("the same status counts as changed")
	}

}

// Keys and the values that repeat are one string for all cached events;
// the event's own id is not interned.
func TestTransformInterns(t *testing.T) {
	decoded := func(id string) *eventsv1alpha1.IngresseEvent {
		ev := stored(t)
		// Decoded objects carry strings of their own: build them afresh.
		ev.Labels = map[string]string{
			strings.Clone(eventsv1alpha1.LabelCompanyID): strings.Clone("77"),
			strings.Clone(eventsv1alpha1.LabelEventID):   id,
		}
		ev.Namespace = strings.Clone("ingresse-system")
		return ev
	}
	a, _ := Transform(decoded("1"))
	b, _ := Transform(decoded("2"))
	ea, eb := a.(*eventsv1alpha1.IngresseEvent), b.(*eventsv1alpha1.IngresseEvent)
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	if !same(ea.Namespace, eb.Namespace) || !same(ea.Labels[eventsv1alpha1.LabelCompanyID], eb.Labels[eventsv1alpha1.LabelCompanyID]) {
		t.Error("the namespace or the company id is not interned")
	}
	for k := range ea.Labels {
		for k2 := range eb.Labels {
			if k == k2 && !same(k, k2) {
				t.Errorf("label key %s is not interned", k)
			}
		}
	}
	if ea.Labels[eventsv1alpha1.LabelEventID] != "1" || eb.Labels[eventsv1alpha1.LabelEventID] != "2" {
		t.Errorf("event ids %v %v", ea.Labels, eb.Labels)
	}
}
