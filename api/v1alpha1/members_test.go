package v1alpha1

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// membersByEncodingJSON is what forEachMember must agree with: the members
// encoding/json finds, the last of a repeated name winning.
func membersByEncodingJSON(t testing.TB, b []byte) map[string]string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func membersByScanner(t testing.TB, b []byte) map[string]string {
	out := map[string]string{}
	if err := forEachMember(b, func(name string, raw []byte) error {
		out[name] = string(raw)
		return nil
	}); err != nil {
		t.Fatalf("scanning %q: %v", b, err)
	}
	return out
}

func TestForEachMemberAgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`,
		` { } `,
		`{"a":1}`,
		"{\n\t\"a\" :\r 1 ,\n \"b\":[1, {\"c\":\"}]\"}] }",
		`{"a":"x\"}y","b":{"c":[{},[]]},"d":null,"e":true,"f":false,"g":-1.5e+3}`,
		`{"\u0074itle":"escaped name","ti\"tle":2,"\\":3}`,
		`{"a":1,"a":2}`,
		`{"a":"\\","b":"\\\""}`,
		`{"ünï":"ç","":0}`,
	}
	for _, ex := range examples.All() {
		var envelope struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(ex.Body, &envelope); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, string(ex.Body), string(envelope.Data))
	}
	for _, c := range cases {
		want, got := membersByEncodingJSON(t, []byte(c)), membersByScanner(t, []byte(c))
		if len(want) != len(got) {
			t.Errorf("%q: scanner found %v, encoding/json %v", c, got, want)
			continue
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%q: member %q is %q, encoding/json says %q", c, k, got[k], v)
			}
		}
	}
}

func TestForEachMemberIgnoresNonObjects(t *testing.T) {
	for _, c := range []string{`null`, ` null `, `[]`, `"x"`, `1`} {
		if got := membersByScanner(t, []byte(c)); len(got) != 0 {
			t.Errorf("%s: found members %v", c, got)
		}
	}
}

// FuzzForEachMember checks the scanner against encoding/json on every valid
// JSON object the fuzzer finds, and that it never panics on anything else.
func FuzzForEachMember(f *testing.F) {
	f.Add([]byte(`{"a":"x\"}y","b":{"c":[{},[]]},"\u0074":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil || m == nil {
			_ = forEachMember(b, func(string, []byte) error { return nil }) // must not panic
			return
		}
		got := membersByScanner(t, b)
		if len(got) != len(m) {
			t.Fatalf("%q: scanner found %d members, encoding/json %d", b, len(got), len(m))
		}
		for k, v := range m {
			if !bytes.Equal([]byte(got[k]), v) {
				t.Fatalf("%q: member %q is %q, encoding/json says %q", b, k, got[k], v)
			}
		}
	})
}

// BenchmarkSpecUnmarshal decodes Ingresse's event-create example, the
// decode every read of an IngresseEvent pays at each nested level.
func BenchmarkSpecUnmarshal(b *testing.B) {
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(examples.EventCreate, &envelope); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var s IngresseEventSpec
		if err := json.Unmarshal(envelope.Data, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func TestForEachMemberRefusesMalformedObjects(t *testing.T) {
	for _, c := range []string{`{`, `{"a":1`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":}`, `{"a" 1}`, `{,}`, `{"a":1]`} {
		if err := forEachMember([]byte(c), func(string, []byte) error { return nil }); err == nil {
			t.Errorf("%s: accepted", c)
		}
	}
	// A name that is not UTF-8 is read as encoding/json reads it.
	b := []byte("{\"a\xffb\":1}")
	got := membersByScanner(t, b)
	if _, ok := got["a\uFFFDb"]; !ok || len(got) != 1 {
		t.Errorf("members %q, want the name with U+FFFD", got)
	}
}
