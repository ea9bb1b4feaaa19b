package controllers

import (
	corev1 "k8s.io/api/core/v1"
)

// AnnotationObservedDataHash is set by ConfigMapCacheTransform on the cached
// copy of every ConfigMap, in place of its data: dataHash of the data and
// binaryData the API server sent. It lives in the manager's memory only and
// is never written to the API server (the controller applies its own
// annotations, never this one).
const AnnotationObservedDataHash = "events.ingresse.com/observed-data-hash"

// ConfigMapCacheTransform is the cache transform for ConfigMaps
// (cache.Options.ByObject[&corev1.ConfigMap{}].Transform). It replaces a
// ConfigMap's data and binaryData with their hash in the
// AnnotationObservedDataHash annotation and drops managedFields, so that
// 10k derived ConfigMaps cost a few hundred bytes each in the cache while
// the controller can still tell whether their content drifted. Anything
// that needs a ConfigMap's data must read it with the manager's API reader.
//
// It is idempotent: an already transformed ConfigMap keeps its hash.
func ConfigMapCacheTransform(obj any) (any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return obj, nil // e.g. a cache.DeletedFinalStateUnknown tombstone
	}
	hash := observedDataHash(cm)
	annotations := make(map[string]string, len(cm.Annotations)+1)
	for k, v := range cm.Annotations {
		annotations[k] = v
	}
	annotations[AnnotationObservedDataHash] = hash
	cm.Annotations = annotations
	cm.Data, cm.BinaryData, cm.ManagedFields = nil, nil, nil
	return cm, nil
}

// observedDataHash is the hash of a ConfigMap's content: computed from its
// data when it has any, else taken from the annotation the cache transform
// left on a data-less cached copy. A ConfigMap read straight from the API
// server therefore hashes the same as its cached copy.
func observedDataHash(cm *corev1.ConfigMap) string {
	if cm.Data == nil && cm.BinaryData == nil {
		if hash, ok := cm.Annotations[AnnotationObservedDataHash]; ok {
			return hash
		}
	}
	return dataHash(cm.Data, cm.BinaryData)
}
