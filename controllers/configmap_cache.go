package controllers

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
)

// The cache-only annotations ConfigMapCacheTransform leaves on the cached
// copy of every ConfigMap. They live in the manager's memory only and are
// never written to the API server (the controller applies its own
// annotations, never these).
const (
	// AnnotationObservedDataHash is dataHash of the data and binaryData
	// the API server sent, in their place.
	AnnotationObservedDataHash = "events.ingresse.com/observed-data-hash"
	// AnnotationObservedLabels is the values of the labels the controller
	// sets (managedLabels), in their place.
	AnnotationObservedLabels = "events.ingresse.com/observed-labels"
)

// ConfigMapCacheTransform is the cache transform for ConfigMaps
// (cache.Options.ByObject[&corev1.ConfigMap{}].Transform). It keeps of a
// ConfigMap what the controller compares with what it wants: its content
// hash annotation, the hash of its data and binaryData
// (AnnotationObservedDataHash), the values of the labels it sets
// (AnnotationObservedLabels) and its owner references. Data, other labels
// and annotations (not the controller's business), and managedFields go,
// so that 100k derived ConfigMaps cost a few hundred bytes each in the
// cache while the controller can still tell whether any of them drifted.
// Anything that needs a ConfigMap's data must read it with the manager's
// API reader.
//
// It is idempotent: an already transformed ConfigMap stays as it is.
func ConfigMapCacheTransform(obj any) (any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return obj, nil // e.g. a cache.DeletedFinalStateUnknown tombstone
	}
	cm.ManagedFields = nil
	if cachedCopy(cm) {
		return cm, nil
	}
	hash := dataHash(cm.Data, cm.BinaryData)
	annotations := make(map[string]string, 3)
	if content, ok := cm.Annotations[eventsv1alpha1.AnnotationContentHash]; ok {
		annotations[eventsv1alpha1.AnnotationContentHash] = content
		if hash == content {
			hash = content // one copy of the string, not two
		}
	}
	annotations[AnnotationObservedDataHash] = hash
	annotations[AnnotationObservedLabels] = encodeManagedLabels(cm.Labels)
	cm.Annotations, cm.Labels = annotations, nil
	cm.Namespace = eventcache.Intern(cm.Namespace)
	for i := range cm.OwnerReferences {
		ref := &cm.OwnerReferences[i]
		ref.APIVersion, ref.Kind = eventcache.Intern(ref.APIVersion), eventcache.Intern(ref.Kind)
		if ref.Name == cm.Name {
			ref.Name = cm.Name
		}
		ref.Controller, ref.BlockOwnerDeletion = sharedBool(ref.Controller), sharedBool(ref.BlockOwnerDeletion)
	}
	cm.Data, cm.BinaryData = nil, nil
	return cm, nil
}

// cachedCopy reports whether cm went through ConfigMapCacheTransform.
func cachedCopy(cm *corev1.ConfigMap) bool {
	_, hashed := cm.Annotations[AnnotationObservedDataHash]
	_, labelled := cm.Annotations[AnnotationObservedLabels]
	return hashed && labelled && cm.Data == nil && cm.BinaryData == nil && cm.Labels == nil
}

// managedLabels are the keys of the labels the controller sets on its
// ConfigMaps (desiredLabels), in the order encodeManagedLabels writes them.
var managedLabels = [...]string{labelManagedBy, labelName, eventsv1alpha1.LabelEventID}

// absentLabel stands for a managed label the ConfigMap does not have: a
// label value cannot be "-" (it must begin with a letter or digit).
const absentLabel = "-"

// encodeManagedLabels writes the values of the managed labels in labels as
// one string, "ingresse-operator,ingresse-event,21447" (a label value
// cannot hold a comma). Two label maps agree on every managed label when
// their encodings are equal.
func encodeManagedLabels(labels map[string]string) string {
	var b strings.Builder
	for i, k := range managedLabels {
		if i > 0 {
			b.WriteByte(',')
		}
		if v, ok := labels[k]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(absentLabel)
		}
	}
	return b.String()
}

// observedLabels is encodeManagedLabels of a ConfigMap's labels, read from
// the annotation the cache transform left on a cached copy.
func observedLabels(cm *corev1.ConfigMap) string {
	if cachedCopy(cm) {
		return cm.Annotations[AnnotationObservedLabels]
	}
	return encodeManagedLabels(cm.Labels)
}

// The two values an owner reference's *bool fields point to, shared by
// every cached ConfigMap instead of one allocation each.
var sharedTrue, sharedFalse = true, false

func sharedBool(b *bool) *bool {
	switch {
	case b == nil:
		return nil
	case *b:
		return &sharedTrue
	default:
		return &sharedFalse
	}
}

// observedDataHash is the hash of a ConfigMap's content: computed from its
// data, or taken from the annotation the cache transform left on a cached
// copy. A ConfigMap read straight from the API server therefore hashes the
// same as its cached copy.
func observedDataHash(cm *corev1.ConfigMap) string {
	if cachedCopy(cm) {
		return cm.Annotations[AnnotationObservedDataHash]
	}
	return dataHash(cm.Data, cm.BinaryData)
}
