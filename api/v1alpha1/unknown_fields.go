package v1alpha1

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	kjson "sigs.k8s.io/json"
)

// The types of the spec keep the JSON members they do not know in a field
// named Unknown, so that a member Ingresse adds tomorrow survives
// payload -> IngresseEvent -> JSON. Each type's UnmarshalJSON and
// MarshalJSON go through decodeKeepingUnknown and encodeWithUnknown with a
// method-less copy of itself ("plain"), which keeps encoding/json from
// recursing into the methods.

// UnmarshalJSON decodes an Ingresse event, keeping unknown members.
func (s *IngresseEventSpec) UnmarshalJSON(b []byte) error {
	type plain IngresseEventSpec
	return decodeKeepingUnknown(b, (*plain)(s), &s.Unknown)
}

// MarshalJSON encodes an Ingresse event with its unknown members in place.
func (s IngresseEventSpec) MarshalJSON() ([]byte, error) {
	type plain IngresseEventSpec
	return encodeWithUnknown(plain(s), s.Unknown)
}

// UnmarshalJSON decodes an event status, keeping unknown members.
func (s *EventStatus) UnmarshalJSON(b []byte) error {
	type plain EventStatus
	return decodeKeepingUnknown(b, (*plain)(s), &s.Unknown)
}

// MarshalJSON encodes an event status with its unknown members in place.
func (s EventStatus) MarshalJSON() ([]byte, error) {
	type plain EventStatus
	return encodeWithUnknown(plain(s), s.Unknown)
}

// UnmarshalJSON decodes a place, keeping unknown members.
func (p *Place) UnmarshalJSON(b []byte) error {
	type plain Place
	return decodeKeepingUnknown(b, (*plain)(p), &p.Unknown)
}

// MarshalJSON encodes a place with its unknown members in place.
func (p Place) MarshalJSON() ([]byte, error) {
	type plain Place
	return encodeWithUnknown(plain(p), p.Unknown)
}

// UnmarshalJSON decodes a location, keeping unknown members.
func (l *Location) UnmarshalJSON(b []byte) error {
	type plain Location
	return decodeKeepingUnknown(b, (*plain)(l), &l.Unknown)
}

// MarshalJSON encodes a location with its unknown members in place.
func (l Location) MarshalJSON() ([]byte, error) {
	type plain Location
	return encodeWithUnknown(plain(l), l.Unknown)
}

// UnmarshalJSON decodes a poster, keeping unknown members.
func (p *Poster) UnmarshalJSON(b []byte) error {
	type plain Poster
	return decodeKeepingUnknown(b, (*plain)(p), &p.Unknown)
}

// MarshalJSON encodes a poster with its unknown members in place.
func (p Poster) MarshalJSON() ([]byte, error) {
	type plain Poster
	return encodeWithUnknown(plain(p), p.Unknown)
}

// UnmarshalJSON decodes a session, keeping unknown members.
func (s *Session) UnmarshalJSON(b []byte) error {
	type plain Session
	return decodeKeepingUnknown(b, (*plain)(s), &s.Unknown)
}

// MarshalJSON encodes a session with its unknown members in place.
func (s Session) MarshalJSON() ([]byte, error) {
	type plain Session
	return encodeWithUnknown(plain(s), s.Unknown)
}

// UnmarshalJSON decodes an attribute, keeping unknown members.
func (a *Attribute) UnmarshalJSON(b []byte) error {
	type plain Attribute
	return decodeKeepingUnknown(b, (*plain)(a), &a.Unknown)
}

// MarshalJSON encodes an attribute with its unknown members in place.
func (a Attribute) MarshalJSON() ([]byte, error) {
	type plain Attribute
	return encodeWithUnknown(plain(a), a.Unknown)
}

// decodeKeepingUnknown decodes the JSON object b into known (a pointer to a
// struct) and stores every member whose name matches no json tag of that
// struct in *unknown. Names are matched case-sensitively, as the API server
// does, so "Title" is an unknown member and not the title.
//
// b is walked once, member by member, and each known member is decoded
// straight into its field: decoding the whole object into the struct and
// again into a map of members would decode every nested level twice per
// level above it, and this runs for every IngresseEvent the manager reads.
func decodeKeepingUnknown(b []byte, known any, unknown *map[string]apiextensionsv1.JSON) error {
	if i := skipSpace(b, 0); i >= len(b) || b[i] != '{' {
		// null (nothing to do) or not an object: the decoder's own answer.
		return kjson.UnmarshalCaseSensitivePreserveInts(b, known)
	}
	v := reflect.ValueOf(known).Elem()
	fields := jsonFields(v.Type())
	*unknown = nil
	return forEachMember(b, func(name string, raw []byte) error {
		if i, ok := fields[name]; ok {
			if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, v.Field(i).Addr().Interface()); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		}
		if !json.Valid(raw) {
			return fmt.Errorf("member %q is not valid JSON", name)
		}
		if *unknown == nil {
			*unknown = make(map[string]apiextensionsv1.JSON)
		}
		(*unknown)[name] = apiextensionsv1.JSON{Raw: bytes.Clone(raw)}
		return nil
	})
}

// errInvalidObject is forEachMember's answer to a malformed object.
var errInvalidObject = errors.New("invalid JSON object")

// forEachMember calls fn with the name and raw value of each member of the
// JSON object b, in order; b must be valid JSON (a later member of the same
// name comes later, so a map filled by fn keeps the last, as
// encoding/json does). It does nothing when b is not an object (null).
func forEachMember(b []byte, fn func(name string, raw []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for {
		end := endOfString(b, i)
		if end < 0 {
			return errInvalidObject
		}
		name, err := memberName(b[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errInvalidObject
		}
		start := skipSpace(b, i+1)
		end = endOfValue(b, start)
		if end <= start {
			return errInvalidObject
		}
		if err := fn(name, b[start:end]); err != nil {
			return err
		}
		i = skipSpace(b, end)
		switch {
		case i < len(b) && b[i] == '}':
			return nil
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		default:
			return errInvalidObject
		}
	}
}

// memberName is the name a quoted JSON string stands for.
func memberName(quoted []byte) (string, error) {
	if bytes.IndexByte(quoted, '\\') < 0 && utf8.Valid(quoted) {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	var name string
	err := json.Unmarshal(quoted, &name)
	return name, err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index just past the string starting at b[i], or
// -1 when b[i] does not start a terminated string.
func endOfString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// endOfValue returns the index just past the value starting at b[i], or -1.
func endOfValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end := endOfString(b, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // a number, true, false or null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}

// encodeWithUnknown encodes known (a struct value) and adds the unknown
// members back. A typed field always wins over an unknown member of the
// same name.
func encodeWithUnknown(known any, unknown map[string]apiextensionsv1.JSON) ([]byte, error) {
	b, err := json.Marshal(known)
	if err != nil || len(unknown) == 0 {
		return b, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return nil, err
	}
	for name, value := range unknown {
		if _, typed := members[name]; typed {
			continue
		}
		raw := value.Raw
		if len(raw) == 0 {
			raw = []byte("null")
		}
		if !json.Valid(raw) {
			return nil, fmt.Errorf("unknown member %q holds invalid JSON", name)
		}
		members[name] = raw
	}
	return json.Marshal(members)
}

var jsonFieldsCache sync.Map // reflect.Type -> map[string]int

// jsonFields maps the JSON member names of a struct type's fields to their
// index. The types it serves embed no structs.
func jsonFields(t reflect.Type) map[string]int {
	if fields, ok := jsonFieldsCache.Load(t); ok {
		return fields.(map[string]int)
	}
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = i
	}
	jsonFieldsCache.Store(t, fields)
	return fields
}
