package v1alpha1

// Condition types on an IngresseEvent. They are API: workloads wait on them
// (kubectl wait --for=condition=Ready) and docs/api.md documents each.
const (
	// ConditionReady summarises the others: True when the derived ConfigMap
	// matches the current spec.
	ConditionReady = "Ready"
	// ConditionContentComplete is False when the derived ConfigMap had to
	// leave content out to stay under the object size limit.
	ConditionContentComplete = "ContentComplete"
	// ConditionSalesEnabled mirrors the event's saleEnabled attribute.
	ConditionSalesEnabled = "SalesEnabled"
	// ConditionUpcomingSession is True while a session that has not started
	// yet exists. It turns False on its own when the last one starts.
	ConditionUpcomingSession = "UpcomingSession"
	// ConditionInSource says whether Ingresse's API has confirmed the
	// stored version: True once a resync sweep or a verified delivery read
	// it back, Unknown while it is only what a webhook said, False when a
	// sweep's listing no longer returns the event.
	ConditionInSource = "InSource"
)

// Condition reasons. CamelCase, stable, documented in docs/api.md.
const (
	// ReasonReconciled: the ConfigMap matches the spec (Ready=True).
	ReasonReconciled = "Reconciled"
	// ReasonConfigMapConflict: a ConfigMap of the same name exists and is
	// not owned by this IngresseEvent; the operator leaves it alone.
	ReasonConfigMapConflict = "ConfigMapConflict"
	// ReasonConfigMapApplyFailed: writing the ConfigMap failed; retried with
	// backoff.
	ReasonConfigMapApplyFailed = "ConfigMapApplyFailed"
	// ReasonInvalidSpec: the spec cannot be turned into a ConfigMap; fix the
	// object, retrying will not help.
	ReasonInvalidSpec = "InvalidSpec"

	// ReasonAllContentIncluded: nothing was left out of the ConfigMap.
	ReasonAllContentIncluded = "AllContentIncluded"
	// ReasonContentTruncated: keys were left out of the ConfigMap to keep it
	// under the size limit; the message names them.
	ReasonContentTruncated = "ContentTruncated"

	// ReasonSaleEnabled: the saleEnabled attribute is true.
	ReasonSaleEnabled = "SaleEnabled"
	// ReasonSaleDisabled: the saleEnabled attribute is false.
	ReasonSaleDisabled = "SaleDisabled"
	// ReasonSaleAttributeMissing: the event has no boolean saleEnabled
	// attribute (Status=Unknown).
	ReasonSaleAttributeMissing = "SaleAttributeMissing"

	// ReasonSessionScheduled: a session starts in the future.
	ReasonSessionScheduled = "SessionScheduled"
	// ReasonNoUpcomingSession: every session has started, or there is none.
	ReasonNoUpcomingSession = "NoUpcomingSession"

	// ReasonConfirmedBySource: the stored version is Ingresse's API's copy.
	ReasonConfirmedBySource = "ConfirmedBySource"
	// ReasonWebhookOnly: the stored version came from a webhook that
	// Ingresse's API has not confirmed (no credentials, or no sweep yet).
	ReasonWebhookOnly = "WebhookOnly"
	// ReasonNotInSource: the last complete sweep of Ingresse's listing did
	// not return the event (InSource=False). It is kept, never deleted.
	ReasonNotInSource = "NotInSource"
)
