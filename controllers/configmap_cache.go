package controllers

import (
	corev1 "k8s.io/api/core/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
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
// AnnotationObservedDataHash annotation, drops managedFields and interns
// the strings every ConfigMap repeats (keys, the namespace, the owner's
// kind), so that 10k derived ConfigMaps cost a few hundred bytes each in
// the cache while the controller can still tell whether their content
// drifted. Anything
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
		annotations[eventcache.Intern(k)] = v
	}
	if hash == annotations[eventsv1alpha1.AnnotationContentHash] {
		hash = annotations[eventsv1alpha1.AnnotationContentHash] // one copy of the string, not two
	}
	annotations[AnnotationObservedDataHash] = hash
	cm.Annotations = annotations
	if cm.Labels != nil {
		labels := make(map[string]string, len(cm.Labels))
		for k, v := range cm.Labels {
			if k != eventsv1alpha1.LabelEventID {
				v = eventcache.Intern(v) // managed-by and name repeat; the event's id does not
			}
			labels[eventcache.Intern(k)] = v
		}
		cm.Labels = labels
	}
	cm.Namespace = eventcache.Intern(cm.Namespace)
	for i := range cm.OwnerReferences {
		ref := &cm.OwnerReferences[i]
		ref.APIVersion, ref.Kind = eventcache.Intern(ref.APIVersion), eventcache.Intern(ref.Kind)
		if ref.Name == cm.Name {
			ref.Name = cm.Name
		}
		ref.Controller, ref.BlockOwnerDeletion = sharedBool(ref.Controller), sharedBool(ref.BlockOwnerDeletion)
	}
	cm.Data, cm.BinaryData, cm.ManagedFields = nil, nil, nil
	return cm, nil
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
