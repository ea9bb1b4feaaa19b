package eventcache

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"

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

// The examples' digest is pinned: a change to it would make every stored
// event look different from its redelivery once, after an upgrade.
func TestDigestOfTheExamples(t *testing.T) {
	digest, err := Digest(&stored(t).Spec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(digest[:]), "9d815200de9a187e37a05b7bfe5fa74b9b626c16081b63e7e9d6f55aa49803de"; got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
}

// Transform leaves what ordering needs in place of the spec, and nothing
// else changes; applied twice it changes nothing more.
func TestTransform(t *testing.T) {
	ev := stored(t)
	want, err := Digest(&ev.Spec)
	if err != nil {
		t.Fatal(err)
	}
	annotationsBefore := ev.Annotations
	out, err := Transform(ev)
	if err != nil {
		t.Fatal(err)
	}
	cached := out.(*eventsv1alpha1.IngresseEvent)
	if !Elided(cached) || cached.Spec.ID != 0 || cached.ManagedFields != nil || cached.Annotations["example.com/note"] != "keep" {
		t.Fatalf("cached copy: %+v", cached)
	}
	if _, ok := annotationsBefore[AnnotationSpecDigest]; ok {
		t.Error("the transform wrote into the decoded object's annotation map instead of a copy")
	}
	digest, updatedAt, ok := Cached(cached)
	if !ok || digest != want || updatedAt != "2018-03-06T20:49:04.468974+00:00" {
		t.Errorf("Cached = %x, %q, %t; want %x and the example's updatedAt", digest, updatedAt, ok, want)
	}
	again, _ := Transform(cached.DeepCopy())
	if d, _, _ := Cached(again.(*eventsv1alpha1.IngresseEvent)); d != want {
		t.Error("a second transform changed the digest")
	}
	cm := &corev1.ConfigMap{Data: map[string]string{"a": "b"}}
	if out, _ := Transform(cm); out.(*corev1.ConfigMap).Data["a"] != "b" {
		t.Error("a ConfigMap was changed")
	}

	Clean(cached)
	if _, ok := cached.Annotations[AnnotationSpecDigest]; ok || cached.Annotations["example.com/note"] != "keep" {
		t.Errorf("Clean left %v", cached.Annotations)
	}
}

// An object with its spec is never taken for a cached copy, whatever
// annotations someone set on it.
func TestHandSetAnnotationsAreNotTrusted(t *testing.T) {
	ev := stored(t)
	ev.Annotations[AnnotationSpecDigest] = "00"
	ev.Annotations[AnnotationUpdatedAt] = "2999-01-01T00:00:00Z"
	if Elided(ev) {
		t.Fatal("an object with its spec counts as stripped")
	}
	if _, _, ok := Cached(ev); ok {
		t.Fatal("Cached read the hand-set annotations")
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
