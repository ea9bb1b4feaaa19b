package webhookreceiver

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
)

// seedEvent is Ingresse's event-create example as a stored IngresseEvent.
func seedEvent(t *testing.T) *eventsv1alpha1.IngresseEvent {
	t.Helper()
	return &eventsv1alpha1.IngresseEvent{
		ObjectMeta: metav1.ObjectMeta{
			Name: "event-21447", Namespace: "ns", ResourceVersion: "7", Generation: 2,
			Labels:        map[string]string{eventsv1alpha1.LabelEventID: "21447"},
			Annotations:   map[string]string{eventsv1alpha1.AnnotationWebhookTimestamp: "2018-04-02T13:57:04.770619Z", "example.com/note": "keep"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "someone"}},
		},
		Spec:   *exampleSpec(t),
		Status: eventsv1alpha1.IngresseEventStatus{ObservedGeneration: 2},
	}
}

func TestCacheTransformKeepsWhatOrderingNeeds(t *testing.T) {
	stored := seedEvent(t)
	// Being deleted: the receiver refuses deliveries on what it reads here.
	deleting := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	stored.DeletionTimestamp = &deleting
	stored.Finalizers = []string{"example.com/hold"}
	original := stored.DeepCopy()
	annotationsBefore := stored.Annotations

	out, err := eventcache.Transform(stored)
	if err != nil {
		t.Fatal(err)
	}
	cached := out.(*eventsv1alpha1.IngresseEvent)
	if !eventcache.Elided(cached) || cached.Spec.ID != 0 || cached.Spec.Title != nil {
		t.Fatalf("the cached copy kept its spec: %+v", cached.Spec)
	}
	if cached.ManagedFields != nil {
		t.Errorf("managedFields kept: %v", cached.ManagedFields)
	}
	if cached.Name != original.Name || cached.ResourceVersion != "7" || cached.Generation != 2 ||
		cached.Labels[eventsv1alpha1.LabelEventID] != "21447" || cached.Annotations["example.com/note"] != "keep" ||
		cached.Status.ObservedGeneration != 2 || !cached.DeletionTimestamp.Equal(&deleting) ||
		len(cached.Finalizers) != 1 || cached.Finalizers[0] != "example.com/hold" {
		t.Errorf("metadata or status lost: %+v", cached.ObjectMeta)
	}
	if _, ok := annotationsBefore[eventcache.AnnotationSpecDigest]; ok {
		t.Error("the transform wrote into the decoded object's annotation map instead of a copy")
	}
	if got, want := storedVersion(cached), storedVersion(original); got != want {
		t.Fatalf("version from the cached copy %+v, from the stored object %+v", got, want)
	}
	if storedVersion(original).updatedAt.IsZero() {
		t.Fatal("the seed's updatedAt did not parse: the comparison above proves nothing")
	}

	// Applied again (it is idempotent) the version is the same.
	again, _ := eventcache.Transform(cached.DeepCopy())
	if got := storedVersion(again.(*eventsv1alpha1.IngresseEvent)); got != storedVersion(original) {
		t.Errorf("second transform changed the version: %+v", got)
	}
	// Other objects pass through untouched.
	cm := &corev1.ConfigMap{Data: map[string]string{"a": "b"}}
	if out, _ := eventcache.Transform(cm); out.(*corev1.ConfigMap).Data["a"] != "b" {
		t.Error("a ConfigMap was changed")
	}
}

func TestCacheAnnotationsOnAStoredObjectAreNotTrusted(t *testing.T) {
	// Someone copies a cached object's annotations onto a stored one: it
	// has its spec, so its spec decides.
	stored := seedEvent(t)
	stored.Annotations[eventcache.AnnotationSpecDigest] = "00"
	stored.Annotations[eventcache.AnnotationUpdatedAt] = "2999-01-01T00:00:00Z"
	if eventcache.Elided(stored) {
		t.Fatal("an object with its spec counts as stripped")
	}
	clean := seedEvent(t)
	if got, want := storedVersion(stored), storedVersion(clean); got != want {
		t.Errorf("version %+v, want the spec's %+v", got, want)
	}
}

// TestCachedCopiesAreNeverWritten: the receiver writes newer versions on
// top of cached copies stripped of their spec; what it writes is the whole
// new spec, and never the cache's own annotations.
func TestCachedCopiesAreNeverWritten(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	r := newReplica(t, ns, replicaConfig{})
	const id = 7101
	name := eventsv1alpha1.ResourceName(id)
	key := client.ObjectKey{Namespace: ns, Name: name}

	waitCached := func(rv string) *eventsv1alpha1.IngresseEvent {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			cached := &eventsv1alpha1.IngresseEvent{}
			if err := r.srv.client.Get(ctx, key, cached); err == nil && cached.ResourceVersion == rv {
				return cached
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cache never showed resourceVersion %s", rv)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	checkStored := func(title string) *eventsv1alpha1.IngresseEvent {
		t.Helper()
		got := r.get(t, name)
		if strOf(got.Spec.Title) != title || got.Spec.ID != id || len(got.Spec.Sessions) == 0 {
			t.Fatalf("stored spec: title %q, id %d, %d sessions; want %q, the whole spec", strOf(got.Spec.Title), got.Spec.ID, len(got.Spec.Sessions), title)
		}
		for _, k := range []string{eventcache.AnnotationSpecDigest, eventcache.AnnotationUpdatedAt, eventcache.AnnotationStatusDigest, eventcache.AnnotationConditions} {
			if _, ok := got.Annotations[k]; ok {
				t.Fatalf("the cache-only annotation %s reached the API server: %v", k, got.Annotations)
			}
		}
		return got
	}

	expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusCreated, outcomeCreated)
	stored := checkStored("version 1")
	if cached := waitCached(stored.ResourceVersion); !eventcache.Elided(cached) {
		t.Fatal("the replica's cache keeps the spec: the transform is not wired as in cmd/main.go")
	}

	// A newer version, written on top of the stripped cached copy.
	expect(t, r.post(t, versionOf(t, id, 2).bytes(t)), http.StatusOK, outcomeUpdated)
	stored = checkStored("version 2")
	if stored.Generation != 2 {
		t.Errorf("generation %d, want 2", stored.Generation)
	}
	waitCached(stored.ResourceVersion)

	// Duplicates (one with a newer envelope timestamp) and stale
	// deliveries against the cached copy.
	retry := versionOf(t, id, 2).with(t, func(p payload) { p["timestamp"] = "2027-01-01T00:00:00Z" })
	expect(t, r.post(t, retry.bytes(t)), http.StatusOK, outcomeUnchanged)
	expect(t, r.post(t, versionOf(t, id, 2).bytes(t)), http.StatusOK, outcomeUnchanged)
	expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusOK, outcomeStale)
	if after := checkStored("version 2"); after.ResourceVersion != stored.ResourceVersion {
		t.Errorf("a duplicate or stale delivery wrote the event")
	}
}
