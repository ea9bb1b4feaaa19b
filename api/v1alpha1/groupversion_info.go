// Package v1alpha1 contains the IngresseEvent API: one custom resource per
// event that Ingresse announces through its event-create and event-update
// webhooks.
//
// +kubebuilder:object:generate=true
// +groupName=events.ingresse.com
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "events.ingresse.com", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers the IngresseEvent kinds under GroupVersion.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &IngresseEvent{}, &IngresseEventList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
