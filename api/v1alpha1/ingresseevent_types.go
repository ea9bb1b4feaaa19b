package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IngresseEventSpec is an Ingresse event exactly as Ingresse sends it in the
// `data` member of an event-create or event-update webhook.
//
// Nothing Ingresse sends is lost. The members Ingresse documents are typed
// so that the API server validates them and `kubectl explain` describes
// them; any member this version does not know (Ingresse adds fields without
// notice) is kept verbatim, at every level of nesting, in the object's
// Unknown map and written back in place when the object is encoded. The CRD
// marks those objects with x-kubernetes-preserve-unknown-fields so that the
// API server stores them too. A payload therefore round-trips
// payload -> IngresseEvent -> JSON with every member and value intact.
// Numbers keep their value: the API server stores JSON numbers as int64
// or float64, so 100000.0 comes back as 100000 and -10.59 as -10.59.
// Every documented member but id may be null, and a null stays null. A
// documented member Ingresse leaves out is written back as null: the types
// do not tell a member sent as null from one not sent (an unknown member is
// kept exactly as sent, or not at all).
//
// The spec is one document, written whole by whoever stores a version of
// it: atomic (x-kubernetes-map-type), so that its managedFields entry is
// one field, not one per member. That entry was half of a stored event's
// size, and every write paid to compute and store it.
//
// +kubebuilder:pruning:PreserveUnknownFields
// +structType=atomic
type IngresseEventSpec struct {
	// id is the Ingresse event id. It names the resource: event-<id>.
	// +required
	// +kubebuilder:validation:Minimum=1
	ID int64 `json:"id"`

	// title is the event's public title.
	// +optional
	// +nullable
	// +kubebuilder:validation:MaxLength=4096
	Title *string `json:"title"`

	// slug is the event's URL slug on Ingresse.
	// +optional
	// +nullable
	// +kubebuilder:validation:MaxLength=4096
	Slug *string `json:"slug"`

	// description is the event's free-text description.
	// +optional
	// +nullable
	Description *string `json:"description"`

	// companyId is the Ingresse company (white label) that owns the event.
	// +optional
	// +nullable
	// +kubebuilder:validation:Minimum=0
	CompanyID *int64 `json:"companyId"`

	// producerId is the Ingresse producer that organises the event.
	// +optional
	// +nullable
	// +kubebuilder:validation:Minimum=0
	ProducerID *int64 `json:"producerId"`

	// createdAt is when the event was created in the Ingresse Backstage,
	// as Ingresse formats it (e.g. 2018-03-06T20:49:04.468967+00:00).
	// +optional
	// +nullable
	// +kubebuilder:validation:MaxLength=64
	CreatedAt *string `json:"createdAt"`

	// updatedAt is when the event was last changed in the Ingresse
	// Backstage. The webhook receiver keeps the newest version by this time
	// and refuses a delivery without it.
	// +optional
	// +nullable
	// +kubebuilder:validation:MaxLength=64
	UpdatedAt *string `json:"updatedAt"`

	// status is the event's publication status on Ingresse.
	// +optional
	// +nullable
	Status *EventStatus `json:"status"`

	// place is where the event happens.
	// +optional
	// +nullable
	Place *Place `json:"place"`

	// poster holds the URLs of the event's poster in each size.
	// +optional
	// +nullable
	Poster *Poster `json:"poster"`

	// sessions are the event's dates, in the order Ingresse sends them.
	// +optional
	// +nullable
	// +listType=atomic
	Sessions []Session `json:"sessions"`

	// categories are the event's categories, as Ingresse sends them.
	// +optional
	// +nullable
	// +listType=atomic
	Categories []apiextensionsv1.JSON `json:"categories"`

	// attributes maps an attribute's camelCase key (e.g. saleEnabled) to its
	// snake_case name and value. New attributes appear without notice.
	// +optional
	// +nullable
	Attributes map[string]Attribute `json:"attributes"`

	// usersPermission is sent by Ingresse as-is (null in its examples).
	// +optional
	// +nullable
	UsersPermission *apiextensionsv1.JSON `json:"usersPermission"`

	// Unknown holds the members of the payload this version does not know.
	Unknown map[string]apiextensionsv1.JSON `json:"-"`
}

// EventStatus is the publication status of an event on Ingresse.
//
// +kubebuilder:pruning:PreserveUnknownFields
type EventStatus struct {
	// id is the Ingresse status id (e.g. 3).
	// +optional
	// +nullable
	ID *int64 `json:"id"`

	// name is the Ingresse status name (e.g. private, public).
	// +optional
	// +nullable
	// +kubebuilder:validation:MaxLength=256
	Name *string `json:"name"`

	// Unknown holds the members of the payload this version does not know.
	Unknown map[string]apiextensionsv1.JSON `json:"-"`
}

// Place is where an event happens. Ingresse sends null for the parts of the
// address it does not know.
//
// +kubebuilder:pruning:PreserveUnknownFields
type Place struct {
	// id is the Ingresse place id.
	// +optional
	// +nullable
	ID *int64 `json:"id"`

	// name is the place's name.
	// +optional
	// +nullable
	Name *string `json:"name"`

	// street is the place's street address.
	// +optional
	// +nullable
	Street *string `json:"street"`

	// city is the place's city.
	// +optional
	// +nullable
	City *string `json:"city"`

	// state is the place's state.
	// +optional
	// +nullable
	State *string `json:"state"`

	// country is the place's country.
	// +optional
	// +nullable
	Country *string `json:"country"`

	// zip is the place's postal code.
	// +optional
	// +nullable
	Zip *string `json:"zip"`

	// externalId is the place's id in the system it came from (see origin).
	// +optional
	// +nullable
	ExternalID *string `json:"externalId"`

	// origin is the system the place came from (e.g. facebook).
	// +optional
	// +nullable
	Origin *string `json:"origin"`

	// location is the place's coordinates.
	// +optional
	// +nullable
	Location *Location `json:"location"`

	// Unknown holds the members of the payload this version does not know.
	Unknown map[string]apiextensionsv1.JSON `json:"-"`
}

// Location is a point on Earth in decimal degrees.
//
// +kubebuilder:pruning:PreserveUnknownFields
type Location struct {
	// lat is the latitude in decimal degrees.
	// +optional
	// +nullable
	Lat *Number `json:"lat"`

	// lon is the longitude in decimal degrees.
	// +optional
	// +nullable
	Lon *Number `json:"lon"`

	// Unknown holds the members of the payload this version does not know.
	Unknown map[string]apiextensionsv1.JSON `json:"-"`
}

// Poster holds the URLs of an event's poster in each size.
//
// +kubebuilder:pruning:PreserveUnknownFields
type Poster struct {
	// small is the URL of the small poster.
	// +optional
	// +nullable
	Small *string `json:"small"`

	// medium is the URL of the medium poster.
	// +optional
	// +nullable
	Medium *string `json:"medium"`

	// large is the URL of the large poster.
	// +optional
	// +nullable
	Large *string `json:"large"`

	// xLarge is the URL of the extra-large poster.
	// +optional
	// +nullable
	XLarge *string `json:"xLarge"`

	// Unknown holds the members of the payload this version does not know.
	Unknown map[string]apiextensionsv1.JSON `json:"-"`
}

// Session is one date of an event.
//
// +kubebuilder:pruning:PreserveUnknownFields
type Session struct {
	// id is the Ingresse session id.
	// +optional
	// +nullable
	ID *int64 `json:"id"`

	// dateTime is when the session starts, with its UTC offset
	// (e.g. 2017-12-01T20:00:00+00:00).
	// +optional
	// +nullable
	// +kubebuilder:validation:MaxLength=64
	DateTime *string `json:"dateTime"`

	// status is the session's status on Ingresse (e.g. finished).
	// +optional
	// +nullable
	// +kubebuilder:validation:MaxLength=256
	Status *string `json:"status"`

	// Unknown holds the members of the payload this version does not know.
	Unknown map[string]apiextensionsv1.JSON `json:"-"`
}

// Attribute is one of an event's attributes: a snake_case name and a value
// of any JSON type (null, boolean, number, string, array or object).
//
// +kubebuilder:pruning:PreserveUnknownFields
type Attribute struct {
	// name is the attribute's snake_case name (e.g. sale_enabled).
	// +optional
	// +nullable
	Name *string `json:"name"`

	// value is the attribute's value, of any JSON type.
	// +optional
	// +nullable
	Value *apiextensionsv1.JSON `json:"value"`

	// Unknown holds the members of the payload this version does not know.
	Unknown map[string]apiextensionsv1.JSON `json:"-"`
}

// IngresseEventStatus is what the controller observed and derived from the
// spec. Only the controller writes it.
type IngresseEventStatus struct {
	// observedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are the latest observations of the event's state. Ready
	// summarises them; see docs/api.md for every type and reason.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// configMapRef names the ConfigMap derived from this event, in the same
	// namespace, and the hash of its content.
	// +optional
	ConfigMapRef *ConfigMapReference `json:"configMapRef,omitempty"`

	// nextSession is the earliest session that has not started yet, if any.
	// +optional
	NextSession *SessionReference `json:"nextSession,omitempty"`
}

// ConfigMapReference names a ConfigMap in the IngresseEvent's namespace.
type ConfigMapReference struct {
	// name is the ConfigMap's name.
	Name string `json:"name"`

	// contentHash is the hash of the ConfigMap's data, as in its
	// events.ingresse.com/content-hash annotation.
	// +optional
	ContentHash string `json:"contentHash,omitempty"`
}

// SessionReference identifies one session of the event.
type SessionReference struct {
	// id is the Ingresse session id, absent when Ingresse sent none.
	// +optional
	ID *int64 `json:"id,omitempty"`

	// dateTime is when the session starts, as Ingresse sent it.
	DateTime string `json:"dateTime"`
}

// IngresseEvent is an event on the Ingresse ticketing platform, written by
// the webhook receiver from Ingresse's event-create and event-update
// webhooks and reconciled by the controller into a ConfigMap of the same
// name and status conditions.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ie;ievent,categories=ingresse
// +kubebuilder:printcolumn:name="Event ID",type=integer,JSONPath=`.spec.id`,priority=1
// +kubebuilder:printcolumn:name="Title",type=string,JSONPath=`.spec.title`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.spec.status.name`,description="The event's status on Ingresse"
// +kubebuilder:printcolumn:name="Next Session",type=string,JSONPath=`.status.nextSession.dateTime`,description="The earliest session not started yet"
// +kubebuilder:printcolumn:name="First Session",type=string,JSONPath=`.spec.sessions[0].dateTime`,priority=1
// +kubebuilder:printcolumn:name="Sales",type=string,JSONPath=`.status.conditions[?(@.type=="SalesEnabled")].status`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="In Source",type=string,JSONPath=`.status.conditions[?(@.type=="InSource")].status`,priority=1,description="True once Ingresse's API confirmed the stored version"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IngresseEvent struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the Ingresse event exactly as Ingresse sends it in a webhook's
	// data member. Members this version of the API does not know are kept
	// and stored as sent, so nothing Ingresse sends is lost.
	// +required
	Spec IngresseEventSpec `json:"spec"`

	// status is what the controller derived from the spec.
	// +optional
	Status IngresseEventStatus `json:"status,omitempty"`
}

// IngresseEventList is a list of IngresseEvents.
//
// +kubebuilder:object:root=true
type IngresseEventList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IngresseEvent `json:"items"`
}
