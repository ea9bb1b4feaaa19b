package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// Labels on every derived ConfigMap, besides eventsv1alpha1.LabelEventID.
const (
	labelManagedBy = "app.kubernetes.io/managed-by"
	labelName      = "app.kubernetes.io/name"
	managedByValue = "ingresse-operator"
	nameValue      = "ingresse-event"
)

// reconcileConfigMap makes the ConfigMap of the same name as ev hold the
// content derived from its spec at now. It writes only when what is there
// differs from what should be, and never touches a ConfigMap that ev does
// not control.
func (r *IngresseEventReconciler) reconcileConfigMap(ctx context.Context, ev *eventsv1alpha1.IngresseEvent, now time.Time) configMapResult {
	res := configMapResult{name: ev.Name, namespace: ev.Namespace, budget: effectiveBudget(r.MaxConfigMapDataBytes)}
	// The content is computed first so that ContentComplete tells the
	// truth about it even while the ConfigMap cannot be written.
	content, contentErr := desiredContent(&ev.Spec, now, res.budget)
	res.content = content
	owner, err := r.ownerReference(ev)
	if err != nil {
		return failed(res, err)
	}

	key := client.ObjectKeyFromObject(ev)
	current := &corev1.ConfigMap{}
	if err := r.Client.Get(ctx, key, current); apierrors.IsNotFound(err) {
		// Nothing cached of that name. A ConfigMap someone created a moment
		// ago may not be cached yet: a create fails on it, where server-side
		// apply would take it over; it is then read and judged below. The
		// first write of every event is thus one request, not a read and a
		// write.
		if contentErr == nil {
			err := r.createConfigMap(ctx, ev, owner, res.content)
			if err == nil {
				res.state, res.observedHash = configMapMatches, res.content.hash
				// Creation is the expected first step of every event, not
				// news: an Event each would be 10k writes at installation.
				ctrl.LoggerFrom(ctx).V(1).Info("ConfigMap created", "configMap", ev.Name, "contentHash", res.content.hash)
				return res
			}
			if !apierrors.IsAlreadyExists(err) {
				res.permanent = apierrors.IsInvalid(err)
				return failed(res, err)
			}
		}
		if current, err = r.liveConfigMap(ctx, key); err != nil {
			return failed(res, fmt.Errorf("reading ConfigMap %s/%s: %w", ev.Namespace, ev.Name, err))
		}
		if current == nil && contentErr == nil {
			// It existed a moment ago and is gone again: start over, as
			// after any other write conflict.
			res = failed(res, fmt.Errorf("ConfigMap %s/%s was deleted while being created", ev.Namespace, ev.Name))
			res.conflicted = true
			return res
		}
	} else if err != nil {
		return failed(res, fmt.Errorf("reading ConfigMap %s/%s: %w", ev.Namespace, ev.Name, err))
	}

	controlled := current != nil && metav1.IsControlledBy(current, ev)
	// ourContent is set when the cache has not caught up with our last
	// write of this ConfigMap: that write's content is what is stored.
	ourContent, cacheBehind := "", false
	if controlled {
		res.observedHash = observedDataHash(current)
		if ourContent, cacheBehind = r.selfWrites.staleContentHash(current); cacheBehind {
			res.observedHash = ourContent
		}
	}
	switch {
	case contentErr != nil:
		res.state, res.err = configMapInvalidSpec, contentErr
		return res
	case !controlled:
		res.state = configMapConflict
		return res
	}
	if len(res.content.omitted) > 0 {
		ctrl.LoggerFrom(ctx).V(1).Info("ConfigMap content truncated to fit", "omittedKeys", len(res.content.omitted), "budget", res.budget)
	}
	if (cacheBehind && ourContent == res.content.hash) || upToDate(current, owner, ev, res.content) {
		res.state = configMapMatches
		return res
	}

	if err := r.applyConfigMap(ctx, ev, owner, res.content, current); err != nil {
		if replaced(err) {
			// Not ours any more: the retry judges what is there now.
			return failed(res, fmt.Errorf("ConfigMap %s/%s was replaced by another of the same name while being written: %w", ev.Namespace, ev.Name, err))
		}
		res.permanent = apierrors.IsInvalid(err)
		return failed(res, err)
	}
	res.state, res.observedHash = configMapMatches, res.content.hash
	ctrl.LoggerFrom(ctx).Info("ConfigMap updated", "configMap", ev.Name, "contentHash", res.content.hash)
	if !cacheBehind && editedByHand(current, res.content) {
		// Following the spec (or a session starting) is the expected
		// course, already told by status.configMapRef and the content
		// hash: an Event each would double the writes of every change.
		// Undoing someone's edit is news.
		r.event(ev, corev1.EventTypeNormal, reasonConfigMapApplied, actionApply,
			fmt.Sprintf("ConfigMap %s set back to content hash %s after it was changed by someone else", ev.Name, res.content.hash))
	}
	return res
}

// editedByHand reports whether a ConfigMap the controller is about to
// rewrite is not as the controller left it: its data no longer matches the
// content hash the controller annotated, or the content is already the
// desired one (so what differs is the metadata someone changed).
func editedByHand(cm *corev1.ConfigMap, want configMapContent) bool {
	annotated := cm.Annotations[eventsv1alpha1.AnnotationContentHash]
	return observedDataHash(cm) != annotated || annotated == want.hash
}

// replaced reports whether the API server refused an apply because the
// ConfigMap it names by UID was replaced by another of the same name (the
// UID cannot change).
func replaced(err error) bool {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, cause := range status.Status().Details.Causes {
		if cause.Type == metav1.CauseTypeFieldValueInvalid && cause.Field == "metadata.uid" {
			return true
		}
	}
	return false
}

// writeConflict reports whether err says that a write of the ConfigMap was
// computed from a version of it that has changed since: 409 Conflict (the
// ConfigMap the apply names by UID was deleted; it was edited between the
// apply and the patch that follows it, which names the applied version),
// or an apply refused because the ConfigMap was replaced.
func writeConflict(err error) bool {
	return apierrors.IsConflict(err) || replaced(err)
}

// failed notes a failed read or write of the ConfigMap. Whether it is
// reported, and how, is the reconcile's to decide.
func failed(res configMapResult, err error) configMapResult {
	res.state, res.err, res.conflicted = configMapFailed, err, writeConflict(err)
	return res
}

// liveConfigMap reads the ConfigMap of key from the API server, nil if
// there is none.
func (r *IngresseEventReconciler) liveConfigMap(ctx context.Context, key client.ObjectKey) (*corev1.ConfigMap, error) {
	reader := r.apiReader
	if reader == nil {
		reader = r.Client
	}
	cm := &corev1.ConfigMap{}
	if err := reader.Get(ctx, key, cm); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return cm, nil
}

// createConfigMap creates the ConfigMap with the desired content, failing
// with AlreadyExists when one of that name exists, whoever made it, and
// records the write as ours. Later writes are server-side applies by the
// same field manager, which take the fields over from this create (those
// they no longer set are removed by applyConfigMap's patch).
func (r *IngresseEventReconciler) createConfigMap(ctx context.Context, ev *eventsv1alpha1.IngresseEvent, owner metav1.OwnerReference, content configMapContent) error {
	cm := newConfigMap(ev, owner, content)
	write := r.selfWrites.writing(true, client.ObjectKeyFromObject(cm))
	defer write.end(nil)
	if err := r.Client.Create(ctx, cm, client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("creating ConfigMap %s/%s: %w", ev.Namespace, ev.Name, err)
	}
	r.selfWrites.recordConfigMap(cm, "", content.hash)
	write.end(cm)
	return nil
}

// newConfigMap is the derived ConfigMap as a create sends it.
func newConfigMap(ev *eventsv1alpha1.IngresseEvent, owner metav1.OwnerReference, content configMapContent) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: ev.Name, Namespace: ev.Namespace,
			Labels:          desiredLabels(ev),
			Annotations:     desiredAnnotations(content),
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Data: maps.Clone(content.data), // the answer is decoded into the copy
	}
}

// DerivedConfigMap is the ConfigMap the controller creates for ev (which
// must have its UID) at now, with the default data budget. The benchmark's
// baseline writes it, so that a bare write pays for the ConfigMap the
// controller really writes.
func DerivedConfigMap(ev *eventsv1alpha1.IngresseEvent, now time.Time) (*corev1.ConfigMap, error) {
	content, err := desiredContent(&ev.Spec, now, DefaultMaxConfigMapDataBytes)
	if err != nil {
		return nil, fmt.Errorf("deriving the ConfigMap of %s/%s: %w", ev.Namespace, ev.Name, err)
	}
	owner := metav1.NewControllerRef(ev, eventsv1alpha1.GroupVersion.WithKind("IngresseEvent"))
	return newConfigMap(ev, *owner, content), nil
}

// upToDate reports whether the ConfigMap already holds the desired content,
// labels, annotations and controller reference. Labels and annotations
// others added are not our business and do not count.
func upToDate(cm *corev1.ConfigMap, want metav1.OwnerReference, ev *eventsv1alpha1.IngresseEvent, content configMapContent) bool {
	if observedDataHash(cm) != content.hash {
		return false
	}
	if observedLabels(cm) != encodeManagedLabels(desiredLabels(ev)) {
		return false
	}
	for k, v := range desiredAnnotations(content) {
		if got, ok := cm.Annotations[k]; !ok || got != v {
			return false
		}
	}
	got := metav1.GetControllerOf(cm)
	return got != nil && got.UID == want.UID && got.Name == want.Name &&
		got.APIVersion == want.APIVersion && got.Kind == want.Kind &&
		got.BlockOwnerDeletion != nil && *got.BlockOwnerDeletion
}

// ownerReference is the controller reference the ConfigMap carries, so that
// garbage collection deletes it with the event and waits for it
// (blockOwnerDeletion) under foreground deletion.
func (r *IngresseEventReconciler) ownerReference(ev *eventsv1alpha1.IngresseEvent) (metav1.OwnerReference, error) {
	gvk := eventsv1alpha1.GroupVersion.WithKind("IngresseEvent")
	if r.Scheme != nil {
		var err error
		if gvk, err = apiutil.GVKForObject(ev, r.Scheme); err != nil {
			return metav1.OwnerReference{}, fmt.Errorf("naming the owner of ConfigMap %s/%s: %w", ev.Namespace, ev.Name, err)
		}
	}
	return *metav1.NewControllerRef(ev, gvk), nil
}

func desiredLabels(ev *eventsv1alpha1.IngresseEvent) map[string]string {
	return map[string]string{
		labelManagedBy:              managedByValue,
		labelName:                   nameValue,
		eventsv1alpha1.LabelEventID: strconv.FormatInt(ev.Spec.ID, 10),
	}
}

func desiredAnnotations(content configMapContent) map[string]string {
	return map[string]string{eventsv1alpha1.AnnotationContentHash: content.hash}
}

// applyConfigMap writes the ConfigMap read as from with server-side apply
// as FieldOwner, forcing ownership of the fields it sets, so a value
// someone edited by hand is set back, and records the write as ours. The
// apply names from's UID, so that the API server refuses it when that
// ConfigMap has been deleted, or replaced by someone else's of the same
// name, since it was read: forcing ownership must never take theirs. Apply
// leaves alone keys it never owned (added by hand, or by our own create and
// no longer wanted), so those are removed afterwards with a patch that only
// succeeds on the version just applied.
func (r *IngresseEventReconciler) applyConfigMap(ctx context.Context, ev *eventsv1alpha1.IngresseEvent, owner metav1.OwnerReference, content configMapContent, from *corev1.ConfigMap) error {
	write := r.selfWrites.writing(true, client.ObjectKeyFromObject(ev))
	defer write.end(nil)
	ac := corev1ac.ConfigMap(ev.Name, ev.Namespace).
		WithUID(from.UID).
		WithLabels(desiredLabels(ev)).
		WithAnnotations(desiredAnnotations(content)).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(owner.APIVersion).
			WithKind(owner.Kind).
			WithName(owner.Name).
			WithUID(owner.UID).
			WithController(true).
			WithBlockOwnerDeletion(true)).
		WithData(content.data)
	if err := r.Client.Apply(ctx, ac, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying ConfigMap %s/%s: %w", ev.Namespace, ev.Name, err)
	}
	applied := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: ev.Name, Namespace: ev.Namespace, UID: deref(ac.UID), ResourceVersion: deref(ac.ResourceVersion),
	}}

	// The response holds the whole ConfigMap: remove the keys beyond ours.
	extra := map[string]map[string]any{}
	for k := range ac.Data {
		if _, ok := content.data[k]; !ok {
			addNull(extra, "data", k)
		}
	}
	for k := range ac.BinaryData {
		addNull(extra, "binaryData", k)
	}
	if len(extra) == 0 {
		r.selfWrites.recordConfigMap(applied, from.ResourceVersion, content.hash)
		write.end(applied)
		return nil
	}
	patch := map[string]any{"metadata": map[string]any{"uid": applied.UID, "resourceVersion": applied.ResourceVersion}}
	for field, keys := range extra {
		patch[field] = keys
	}
	raw, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encoding the patch for ConfigMap %s/%s: %w", ev.Namespace, ev.Name, err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ev.Name, Namespace: ev.Namespace}}
	if err := r.Client.Patch(ctx, cm, client.RawPatch(types.MergePatchType, raw), client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("removing keys we do not set from ConfigMap %s/%s: %w", ev.Namespace, ev.Name, err)
	}
	// The applied version is a step of this write: a cache showing it is
	// behind, and its watch event is ours.
	r.selfWrites.recordConfigMap(cm, from.ResourceVersion, content.hash, applied.ResourceVersion)
	write.end(cm)
	return nil
}

func addNull(m map[string]map[string]any, field, key string) {
	if m[field] == nil {
		m[field] = map[string]any{}
	}
	m[field][key] = nil
}
