package controllers

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
	"github.com/ingresse-operator/ingresse-operator/internal/fakeingresse"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// BenchmarkCachedBytesPerEvent measures what one stored event costs the
// controller's cache once its watch events are decoded (JSON for the
// IngresseEvent, protobuf for the ConfigMap, as the informers receive
// them), transformed and stored in an indexer like the informers': the
// live heap per event, after a collection, reported as IngresseEvent-B and
// ConfigMap-B. A figure, not a test: make bench-scale measures the whole
// process against it.
//
//	go test ./controllers -run '^$' -bench CachedBytesPerEvent -benchtime 1x
func BenchmarkCachedBytesPerEvent(b *testing.B) {
	const n = 10000
	evs, cms := make([][]byte, n), make([][]byte, n)
	for i := range n {
		evs[i], cms[i] = storedEventJSON(b, 20000+i), storedConfigMapProto(b, 20000+i)
	}
	decoder := serializer.NewCodecFactory(testenv.Scheme).UniversalDeserializer()
	pb := protobuf.NewSerializer(testenv.Scheme, testenv.Scheme)
	for b.Loop() {
		events, configMaps := newIndexer(), newIndexer()
		h0 := liveHeap()
		for _, raw := range evs {
			obj, _, err := decoder.Decode(raw, nil, &eventsv1alpha1.IngresseEvent{})
			if err != nil {
				b.Fatal(err)
			}
			cached, _ := eventcache.Transform(obj)
			_ = events.Add(cached)
		}
		h1 := liveHeap()
		for _, raw := range cms {
			obj, _, err := pb.Decode(raw, nil, &corev1.ConfigMap{})
			if err != nil {
				b.Fatal(err)
			}
			cached, _ := ConfigMapCacheTransform(obj)
			_ = configMaps.Add(cached)
		}
		h2 := liveHeap()
		b.ReportMetric(float64(int64(h1)-int64(h0))/n, "IngresseEvent-B")
		b.ReportMetric(float64(int64(h2)-int64(h1))/n, "ConfigMap-B")
		runtime.KeepAlive(events)
		runtime.KeepAlive(configMaps)
	}
	runtime.KeepAlive(evs)
	runtime.KeepAlive(cms)
}

func newIndexer() toolscache.Indexer {
	return toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// storedEventJSON is the id-th event as the API server sends it once
// reconciled: a realistic document, the receiver's labels and
// annotations, and the controller's status.
func storedEventJSON(b *testing.B, id int) []byte {
	ev := &eventsv1alpha1.IngresseEvent{
		TypeMeta: metav1.TypeMeta{APIVersion: eventsv1alpha1.GroupVersion.String(), Kind: "IngresseEvent"},
		ObjectMeta: metav1.ObjectMeta{
			Name: eventsv1alpha1.ResourceName(int64(id)), Namespace: "ingresse-system", UID: "0b0e4f4e-9a8b-4c1e-8f0e-1234567890ab",
			ResourceVersion: "1234567", Generation: 1, CreationTimestamp: metav1.Now(),
			Labels: map[string]string{
				eventsv1alpha1.LabelEventID: strconv.Itoa(id), eventsv1alpha1.LabelCompanyID: "77", eventsv1alpha1.LabelProducerID: "297229",
			},
			Annotations: map[string]string{
				eventsv1alpha1.AnnotationWebhook: "event-update", eventsv1alpha1.AnnotationWebhookTimestamp: "2026-06-01T12:00:01Z",
				eventsv1alpha1.AnnotationReceivedAt: "2026-06-01T12:00:01.123456789Z", eventsv1alpha1.AnnotationSource: eventsv1alpha1.SourceWebhook,
			},
		},
	}
	if err := json.Unmarshal(fakeingresse.SeedEvent(id, 77, 297229, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)), &ev.Spec); err != nil {
		b.Fatal(err)
	}
	content, err := desiredContent(&ev.Spec, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), effectiveBudget(0))
	if err != nil {
		b.Fatal(err)
	}
	cm := configMapResult{state: configMapMatches, name: ev.Name, namespace: ev.Namespace, budget: effectiveBudget(0), content: content, observedHash: content.hash}
	conds, next, _ := computeConditions(ev, cm, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	ev.Status = desiredStatus(ev, conds, next, cm)
	raw, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// storedConfigMapProto is the id-th event's ConfigMap as the API server
// sends it.
func storedConfigMapProto(b *testing.B, id int) []byte {
	var spec eventsv1alpha1.IngresseEventSpec
	if err := json.Unmarshal(fakeingresse.SeedEvent(id, 77, 297229, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)), &spec); err != nil {
		b.Fatal(err)
	}
	content, err := desiredContent(&spec, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), effectiveBudget(0))
	if err != nil {
		b.Fatal(err)
	}
	name := eventsv1alpha1.ResourceName(int64(id))
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "ingresse-system", UID: "1b0e4f4e-9a8b-4c1e-8f0e-1234567890ab", ResourceVersion: "1234568",
			CreationTimestamp: metav1.Now(),
			Labels:            desiredLabels(&eventsv1alpha1.IngresseEvent{Spec: spec}),
			Annotations:       desiredAnnotations(content),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: eventsv1alpha1.GroupVersion.String(), Kind: "IngresseEvent", Name: name, UID: "0b0e4f4e-9a8b-4c1e-8f0e-1234567890ab",
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Data: content.data,
	}
	var buf bytes.Buffer
	if err := protobuf.NewSerializer(testenv.Scheme, testenv.Scheme).Encode(cm, &buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
