package webhookreceiver

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	kjson "sigs.k8s.io/json"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
)

// Webhook types. Only the two event types are stored; the others Ingresse
// documents are acknowledged and ignored, and so is any type it adds later,
// so that a new type does not make Ingresse retry forever.
const (
	webhookEventCreate = eventstore.WebhookEventCreate
	webhookEventUpdate = "event-update"

	// webhookNone labels requests answered before the type was read;
	// webhookUnknown labels types Ingresse does not document. Together
	// with the documented types they keep the metric label bounded.
	webhookNone    = "none"
	webhookUnknown = "unknown"
)

// ignoredWebhooks are the documented types that are not events. The
// bodies of sale and postback hold personal data: nothing past their
// webhook member is decoded, logged or stored.
var ignoredWebhooks = map[string]bool{"ticket": true, "sale": true, "checkin": true, "postback": true}

// decodeEnvelope decodes and validates a webhook body. It returns the
// webhook's metric label and, for the event types, the delivery; for any
// other type the delivery is nil and the body has not been looked at past
// the webhook member. Every error is a 400 that names what is wrong.
func decodeEnvelope(body []byte) (label string, d *eventstore.Delivery, err error) {
	// Members are matched case-sensitively ("Webhook" is not "webhook"),
	// and a document with anything after it is refused.
	if !json.Valid(body) {
		var syntax json.RawMessage
		return webhookNone, nil, errBadRequest("body is not valid JSON: %v", json.Unmarshal(body, &syntax))
	}
	var members map[string]json.RawMessage
	if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &members); err != nil || members == nil {
		return webhookNone, nil, errBadRequest("body must be a JSON object {webhook, data, timestamp}")
	}

	webhook, err := decodeWebhookType(members["webhook"])
	if err != nil {
		return webhookNone, nil, err
	}
	switch {
	case webhook == webhookEventCreate || webhook == webhookEventUpdate:
	case ignoredWebhooks[webhook]:
		return webhook, nil, nil
	default:
		return webhookUnknown, nil, nil
	}

	// JSON text is UTF-8; a decoder would silently replace invalid bytes,
	// storing something other than what was sent.
	if !utf8.Valid(body) {
		return webhook, nil, errBadRequest("body is not valid UTF-8")
	}
	d = &eventstore.Delivery{Webhook: webhook}
	if d.Spec, d.UpdatedAt, err = eventstore.DecodeEventData(members["data"]); err != nil {
		return webhook, nil, err
	}
	if d.Timestamp, err = decodeTimestamp(members["timestamp"]); err != nil {
		return webhook, nil, err
	}
	return webhook, d, nil
}

// decodeWebhookType reads the webhook member: a non-empty string.
func decodeWebhookType(raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", errBadRequest("webhook is required")
	}
	var webhook string
	if !isJSONString(raw) || json.Unmarshal(raw, &webhook) != nil {
		return "", errBadRequest("webhook must be a string such as %q", webhookEventUpdate)
	}
	if webhook == "" {
		return "", errBadRequest("webhook must not be empty")
	}
	return webhook, nil
}

// decodeTimestamp reads the envelope's timestamp: RFC 3339, or Ingresse's
// zone-less 2018-04-02T13:57:04.770619, which is UTC.
func decodeTimestamp(raw json.RawMessage) (time.Time, error) {
	if raw == nil {
		return time.Time{}, errBadRequest("timestamp is required")
	}
	var s string
	if !isJSONString(raw) || json.Unmarshal(raw, &s) != nil {
		return time.Time{}, errBadRequest("timestamp must be a string such as \"2018-04-02T13:57:04.770619\"")
	}
	t, err := eventsv1alpha1.ParseTime(s)
	if err != nil {
		return time.Time{}, errBadRequest("timestamp must be a time such as 2018-04-02T13:57:04.770619 or RFC 3339: %s", err)
	}
	if err := eventstore.CheckYear("timestamp", t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// isJSONString reports whether raw is a JSON string (and not null, which
// would decode into "" without an error).
func isJSONString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}
