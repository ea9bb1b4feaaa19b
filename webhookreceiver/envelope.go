package webhookreceiver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	kjson "sigs.k8s.io/json"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/text"
)

// Webhook types. Only the two event types are stored; the others Ingresse
// documents are acknowledged and ignored, and so is any type it adds later,
// so that a new type does not make Ingresse retry forever.
const (
	webhookEventCreate = "event-create"
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

// delivery is a valid event-create or event-update webhook.
type delivery struct {
	// webhook is the delivery's type; "" for a copy a resync sweep read.
	webhook string
	// source is eventsv1alpha1.SourceIngresseAPI for a copy read from
	// Ingresse's API (a sweep's, or a verified delivery's); "" (a
	// webhook's, unverified) otherwise.
	source string
	// timestamp is the envelope's timestamp, or when the API's copy was
	// read, in UTC.
	timestamp time.Time
	// updatedAt is data.updatedAt, in UTC: the first ordering key.
	updatedAt time.Time
	spec      eventsv1alpha1.IngresseEventSpec
}

// name is the IngresseEvent the delivery is stored in.
func (d *delivery) name() string { return eventsv1alpha1.ResourceName(d.spec.ID) }

// fromSource reports whether the delivery is a copy read from Ingresse's
// API.
func (d *delivery) fromSource() bool { return d.source == eventsv1alpha1.SourceIngresseAPI }

// sourceName is the value of the source annotation for the delivery.
func (d *delivery) sourceName() string {
	if d.fromSource() {
		return eventsv1alpha1.SourceIngresseAPI
	}
	return eventsv1alpha1.SourceWebhook
}

// confirms reports whether storing d, whose spec equals the one stored in
// obj, still has something to say: that the source confirmed it, or that
// the event the last sweep missed exists.
func (d *delivery) confirms(obj *eventsv1alpha1.IngresseEvent) bool {
	if !d.fromSource() {
		return false
	}
	_, absent := obj.Annotations[eventsv1alpha1.AnnotationAbsentSince]
	return absent || obj.Annotations[eventsv1alpha1.AnnotationSource] != eventsv1alpha1.SourceIngresseAPI
}

// describe names the delivery in an Event's note: where it came from, its
// timestamp and updatedAt. Nothing personal.
func (d *delivery) describe() string {
	ts, updated := d.timestamp.UTC().Format(time.RFC3339Nano), d.updatedAt.UTC().Format(time.RFC3339Nano)
	switch {
	case d.fromSource() && d.webhook != "":
		return fmt.Sprintf("Ingresse's API copy read at %s for an %s delivery (updatedAt %s)", ts, d.webhook, updated)
	case d.fromSource():
		return fmt.Sprintf("Ingresse's API copy read at %s by a resync sweep (updatedAt %s)", ts, updated)
	default:
		return fmt.Sprintf("%s delivered at %s (updatedAt %s)", d.webhook, ts, updated)
	}
}

// decodeEnvelope decodes and validates a webhook body. It returns the
// webhook's metric label and, for the event types, the delivery; for any
// other type the delivery is nil and the body has not been looked at past
// the webhook member. Every error is a 400 that names what is wrong.
func decodeEnvelope(body []byte) (label string, d *delivery, err error) {
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
	d = &delivery{webhook: webhook}
	if d.spec, d.updatedAt, err = decodeEventData(members["data"]); err != nil {
		return webhook, nil, err
	}
	if d.timestamp, err = decodeTimestamp(members["timestamp"]); err != nil {
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
	if err := checkYear("timestamp", t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// checkYear refuses a time (already in UTC) outside the years 0000 to
// 9999. Both ordering keys are compared in UTC and written back in RFC
// 3339, which has four digits for the year: an offset can push a time past
// 9999 (or before 0000), and such a version would read back as unknown.
func checkYear(member string, t time.Time) error {
	if t = t.UTC(); t.Year() < 0 || t.Year() > 9999 {
		return errBadRequest("%s must be between years 0000 and 9999 in UTC", member)
	}
	return nil
}

// decodeEventData validates the data member against the IngresseEvent
// spec's types, naming the first member that does not fit, and decodes it.
// Members the spec does not know are kept (in Unknown) and not checked.
func decodeEventData(raw json.RawMessage) (eventsv1alpha1.IngresseEventSpec, time.Time, error) {
	if raw == nil {
		return eventsv1alpha1.IngresseEventSpec{}, time.Time{}, errBadRequest("data is required")
	}
	spec, err := decodeSpec(raw)
	if err != nil {
		return spec, time.Time{}, err
	}
	if spec.CompanyID != nil && *spec.CompanyID < 0 {
		return spec, time.Time{}, errBadRequest("data.companyId must not be negative")
	}
	if spec.ProducerID != nil && *spec.ProducerID < 0 {
		return spec, time.Time{}, errBadRequest("data.producerId must not be negative")
	}
	if spec.UpdatedAt == nil || *spec.UpdatedAt == "" {
		return spec, time.Time{}, errBadRequest("data.updatedAt is required: it orders the versions of an event")
	}
	updatedAt, err := eventsv1alpha1.ParseTime(*spec.UpdatedAt)
	if err != nil {
		return spec, time.Time{}, errBadRequest("data.updatedAt must be a time such as 2018-03-06T20:49:04.468974+00:00: %s", err)
	}
	if err := checkYear("data.updatedAt", updatedAt); err != nil {
		return spec, time.Time{}, err
	}
	return spec, updatedAt, nil
}

// decodeSpec decodes data into a spec. A valid event, the common case,
// costs one decode; whatever the decoder refuses is examined again as
// generic JSON, member by member, so that the answer names the member that
// does not fit (checkType accepts exactly what the decoder does).
func decodeSpec(raw json.RawMessage) (eventsv1alpha1.IngresseEventSpec, error) {
	var spec eventsv1alpha1.IngresseEventSpec
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '{' {
		if err := json.Unmarshal(raw, &spec); err == nil && spec.ID > 0 {
			return spec, nil
		}
		spec = eventsv1alpha1.IngresseEventSpec{}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return spec, errBadRequest("data is not valid JSON: %s", err)
	}
	members, ok := generic.(map[string]any)
	if !ok {
		return spec, errBadRequest("data must be an object, not %s", jsonKind(generic))
	}
	if !isPositiveInt64(members["id"]) {
		return spec, errBadRequest("data.id must be a positive integer")
	}
	if err := checkType("data", members, specType); err != nil {
		return spec, errBadRequest("%s", err)
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		// checkType should have caught it; say what the decoder says.
		return spec, errBadRequest("data is not a valid event: %s", err)
	}
	return spec, nil
}

// isPositiveInt64 reports whether v is a JSON integer (no fraction, no
// exponent) from 1 to the largest int64.
func isPositiveInt64(v any) bool {
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(n.String(), ".eE") {
		return false
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	return err == nil && i > 0
}

// isJSONString reports whether raw is a JSON string (and not null, which
// would decode into "" without an error).
func isJSONString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

var (
	specType   = reflect.TypeFor[eventsv1alpha1.IngresseEventSpec]()
	numberType = reflect.TypeFor[eventsv1alpha1.Number]()
	anyJSON    = reflect.TypeFor[apiextensionsv1.JSON]()
)

// checkType checks a JSON value (decoded with UseNumber) against the Go
// type it will be decoded into, so that a type error names the member
// precisely (data.sessions[0].id) instead of the decoder's Go-centric
// message. null fits every type, as it does for the decoder.
func checkType(path string, v any, t reflect.Type) error {
	if v == nil || t == anyJSON {
		return nil
	}
	if t == numberType {
		n, ok := v.(json.Number)
		if !ok {
			return typeError(path, "a number", v)
		}
		if _, err := strconv.ParseFloat(n.String(), 64); err != nil {
			return fmt.Errorf("%s is out of range", path)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkType(path, v, t.Elem())
	case reflect.String:
		if _, ok := v.(string); !ok {
			return typeError(path, "a string", v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return typeError(path, "a boolean", v)
		}
	case reflect.Int64, reflect.Int32, reflect.Int:
		n, ok := v.(json.Number)
		if !ok || strings.ContainsAny(n.String(), ".eE") {
			return typeError(path, "an integer", v)
		}
		if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
			return fmt.Errorf("%s is out of range", path)
		}
	case reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			return typeError(path, "a number", v)
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return typeError(path, "an array", v)
		}
		for i, item := range items {
			if err := checkType(fmt.Sprintf("%s[%d]", path, i), item, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Map:
		members, ok := v.(map[string]any)
		if !ok {
			return typeError(path, "an object", v)
		}
		for _, key := range sortedKeys(members) {
			if err := checkType(memberPath(path, key), members[key], t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Struct:
		members, ok := v.(map[string]any)
		if !ok {
			return typeError(path, "an object", v)
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			if value, present := members[name]; present {
				if err := checkType(path+"."+name, value, f.Type); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("%s has a type the receiver cannot check (%s)", path, t)
	}
	return nil
}

func typeError(path, want string, got any) error {
	return fmt.Errorf("%s must be %s, not %s", path, want, jsonKind(got))
}

// jsonKind names a decoded JSON value's type.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// memberPath appends an object member to a path, quoting names that would
// make the path ambiguous.
func memberPath(path, key string) string {
	for _, r := range key {
		if r != '_' && r != '-' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return path + "[" + strconv.Quote(text.Truncate(key, 64)) + "]"
		}
	}
	if key == "" {
		return path + `[""]`
	}
	return path + "." + text.Truncate(key, 64)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
