package webhookreceiver

// RBAC is what the receiver needs, in the namespace it writes to, and no
// more. `make manifests` generates config/rbac/receiver_role.yaml from these
// markers.
//
// IngresseEvents: get, create and update to store deliveries. Neither list
// nor watch: the receiver reads each event it stores from the API server,
// and keeps no informer. It never patches and never deletes, and it never
// writes status.
//
// Events: create and patch, in both the events.k8s.io API the recorder
// uses and the core API it falls back to on older clusters.
//
// +kubebuilder:rbac:groups=events.ingresse.com,namespace=ingresse-system,resources=ingresseevents,verbs=get;create;update
// +kubebuilder:rbac:groups=events.k8s.io,namespace=ingresse-system,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=ingresse-system,resources=events,verbs=create;patch
