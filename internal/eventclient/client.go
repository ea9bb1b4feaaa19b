// Package eventclient is the event store's Kubernetes client
// (internal/eventstore, for the receiver and the sweep): controller-runtime's,
// except that it asks the API server to answer the creates and updates of
// IngresseEvents with their metadata only. The manager's own client, which
// the controller uses, is controller-runtime's as it is.
package eventclient

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// metadataOnly asks the API server to answer with the object's metadata
// (a meta.k8s.io/v1 PartialObjectMetadata) instead of the whole object.
const metadataOnly = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

// New is controller-runtime's client, except that a create or an update
// of an IngresseEvent asks the API server to answer with the event's
// metadata only. The event store writes every version that way: the whole
// event in the answer would cost the API server an encoding and the manager
// a decoding of a spec the store has just sent, for the resourceVersion and
// UID it needs. After such a write the object holds the answer's metadata
// and keeps the spec and status it was sent with.
func New(config *rest.Config, options client.Options) (client.WithWatch, error) {
	c, err := client.NewWithWatch(config, options)
	if err != nil {
		return nil, err
	}
	httpClient := options.HTTPClient
	if httpClient == nil {
		if httpClient, err = rest.HTTPClientFor(config); err != nil {
			return nil, fmt.Errorf("creating the HTTP client: %w", err)
		}
	}
	gvk, err := apiutil.GVKForObject(&eventsv1alpha1.IngresseEvent{}, c.Scheme())
	if err != nil {
		return nil, fmt.Errorf("the client's scheme does not know IngresseEvents: %w", err)
	}
	rc, err := apiutil.RESTClientForGVK(gvk, true, false, config, serializer.NewCodecFactory(c.Scheme()), httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the REST client for IngresseEvents: %w", err)
	}
	return &metadataAnswers{WithWatch: c, rest: rc, gvk: gvk, defaults: writeDefaults(options)}, nil
}

// writeOption is an option of both a create and an update.
type writeOption interface {
	client.CreateOption
	client.UpdateOption
}

// writeDefaults are the client-wide options controller-runtime's client
// applies to every write (before the call's own), which the two writes
// made here apply the same way.
func writeDefaults(o client.Options) []writeOption {
	var d []writeOption
	if o.DryRun != nil && *o.DryRun {
		d = append(d, client.DryRunAll)
	}
	if o.FieldOwner != "" {
		d = append(d, client.FieldOwner(o.FieldOwner))
	}
	if o.FieldValidation != "" {
		d = append(d, client.FieldValidation(o.FieldValidation))
	}
	return d
}

// metadataAnswers is a client whose IngresseEvent creates and updates are
// answered with metadata only.
type metadataAnswers struct {
	client.WithWatch
	rest     rest.Interface
	gvk      schema.GroupVersionKind
	defaults []writeOption
}

// Create creates obj; an IngresseEvent gets only the answer's metadata.
func (c *metadataAnswers) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	ev, ok := obj.(*eventsv1alpha1.IngresseEvent)
	if !ok {
		return c.WithWatch.Create(ctx, obj, opts...)
	}
	o := &client.CreateOptions{}
	for _, d := range c.defaults {
		d.ApplyToCreate(o)
	}
	o.ApplyOptions(opts)
	return c.write(ctx, ev, c.rest.Post(), o.AsCreateOptions())
}

// Update replaces obj (at its resourceVersion, when set); an IngresseEvent
// gets only the answer's metadata.
func (c *metadataAnswers) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	ev, ok := obj.(*eventsv1alpha1.IngresseEvent)
	if !ok {
		return c.WithWatch.Update(ctx, obj, opts...)
	}
	o := &client.UpdateOptions{}
	for _, d := range c.defaults {
		d.ApplyToUpdate(o)
	}
	o.ApplyOptions(opts)
	return c.write(ctx, ev, c.rest.Put().Name(ev.Name), o.AsUpdateOptions())
}

// write sends ev with req (a POST, or a PUT to its name) and params, asking
// for its metadata only in the answer.
func (c *metadataAnswers) write(ctx context.Context, ev *eventsv1alpha1.IngresseEvent, req *rest.Request, params runtime.Object) error {
	resource, err := c.resource()
	if err != nil {
		return err
	}
	return c.answer(ev, req.
		Namespace(ev.Namespace).
		Resource(resource).
		Body(ev).
		VersionedParams(params, metav1.ParameterCodec).
		SetHeader("Accept", metadataOnly).
		Do(ctx))
}

// resource is the IngresseEvents' resource name, from the REST mapper.
func (c *metadataAnswers) resource() (string, error) {
	m, err := c.RESTMapper().RESTMapping(c.gvk.GroupKind(), c.gvk.Version)
	if err != nil {
		return "", fmt.Errorf("mapping %s to its resource: %w", c.gvk, err)
	}
	return m.Resource.Resource, nil
}

// answer sets ev's metadata from a metadata-only answer, or returns the
// API server's error (a *StatusError, as controller-runtime's own).
func (c *metadataAnswers) answer(ev *eventsv1alpha1.IngresseEvent, res rest.Result) error {
	if err := res.Error(); err != nil {
		return err // the API server's Status, as a *StatusError
	}
	raw, _ := res.Raw()
	var meta metav1.PartialObjectMetadata
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("decoding the answer for IngresseEvent %s/%s: %w", ev.Namespace, ev.Name, err)
	}
	if meta.Kind != "PartialObjectMetadata" || meta.UID == "" {
		return fmt.Errorf("the answer for IngresseEvent %s/%s is a %q, not its metadata", ev.Namespace, ev.Name, meta.Kind)
	}
	ev.ObjectMeta = meta.ObjectMeta
	return nil
}
