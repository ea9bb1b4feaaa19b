package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

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
func decodeKeepingUnknown(b []byte, known any, unknown *map[string]apiextensionsv1.JSON) error {
	if err := kjson.UnmarshalCaseSensitivePreserveInts(b, known); err != nil {
		return err
	}
	var members map[string]json.RawMessage
	if err := kjson.UnmarshalCaseSensitivePreserveInts(b, &members); err != nil {
		return err
	}
	names := jsonNames(reflect.TypeOf(known).Elem())
	*unknown = nil
	for name, raw := range members {
		if _, ok := names[name]; ok {
			continue
		}
		if *unknown == nil {
			*unknown = make(map[string]apiextensionsv1.JSON)
		}
		(*unknown)[name] = apiextensionsv1.JSON{Raw: bytes.Clone(raw)}
	}
	return nil
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

var jsonNamesCache sync.Map // reflect.Type -> map[string]struct{}

// jsonNames returns the JSON member names of a struct type's fields.
func jsonNames(t reflect.Type) map[string]struct{} {
	if names, ok := jsonNamesCache.Load(t); ok {
		return names.(map[string]struct{})
	}
	names := make(map[string]struct{}, t.NumField())
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
		names[name] = struct{}{}
	}
	jsonNamesCache.Store(t, names)
	return names
}
