package eventstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/text"
)

// CheckYear refuses a time (already in UTC) outside the years 0000 to
// 9999. Both ordering keys are compared in UTC and written back in RFC
// 3339, which has four digits for the year: an offset can push a time past
// 9999 (or before 0000), and such a version would read back as unknown.
func CheckYear(member string, t time.Time) error {
	if t = t.UTC(); t.Year() < 0 || t.Year() > 9999 {
		return invalid("%s must be between years 0000 and 9999 in UTC", member)
	}
	return nil
}

// DecodeEventData validates the data member against the IngresseEvent
// spec's types, naming the first member that does not fit, and decodes it.
// Members the spec does not know are kept (in Unknown) and not checked.
func DecodeEventData(raw json.RawMessage) (eventsv1alpha1.IngresseEventSpec, time.Time, error) {
	if raw == nil {
		return eventsv1alpha1.IngresseEventSpec{}, time.Time{}, invalid("data is required")
	}
	spec, err := decodeSpec(raw)
	if err != nil {
		return spec, time.Time{}, err
	}
	if spec.CompanyID != nil && *spec.CompanyID < 0 {
		return spec, time.Time{}, invalid("data.companyId must not be negative")
	}
	if spec.ProducerID != nil && *spec.ProducerID < 0 {
		return spec, time.Time{}, invalid("data.producerId must not be negative")
	}
	if spec.UpdatedAt == nil || *spec.UpdatedAt == "" {
		return spec, time.Time{}, invalid("data.updatedAt is required: it orders the versions of an event")
	}
	updatedAt, err := eventsv1alpha1.ParseTime(*spec.UpdatedAt)
	if err != nil {
		return spec, time.Time{}, invalid("data.updatedAt must be a time such as 2018-03-06T20:49:04.468974+00:00: %s", err)
	}
	if err := CheckYear("data.updatedAt", updatedAt); err != nil {
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
		return spec, invalid("data is not valid JSON: %s", err)
	}
	members, ok := generic.(map[string]any)
	if !ok {
		return spec, invalid("data must be an object, not %s", jsonKind(generic))
	}
	if !isPositiveInt64(members["id"]) {
		return spec, invalid("data.id must be a positive integer")
	}
	if err := checkType("data", members, specType); err != nil {
		return spec, invalid("%s", err)
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		// checkType should have caught it; say what the decoder says.
		return spec, invalid("data is not a valid event: %s", err)
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
