package jsoncanon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// referenceCanonical is what Append promises to equal: the
// document decoded by encoding/json (UseNumber) into a generic value,
// numbers normalised if asked, and encoded again.
func referenceCanonical(src []byte, o Options) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if o.NormaliseNumbers {
		v = referenceNormalise(v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(o.EscapeHTML)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func referenceNormalise(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = referenceNormalise(e)
		}
	case []any:
		for i, e := range v {
			v[i] = referenceNormalise(e)
		}
	case json.Number:
		if i, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(v.String(), 64); err == nil {
			return f
		}
	}
	return v
}

var allOptions = []Options{{}, {EscapeHTML: true}, {NormaliseNumbers: true}, {EscapeHTML: true, NormaliseNumbers: true}}

// checkCanonical fails unless Append agrees with the
// reference on src under every option, or both refuse it.
func checkCanonical(t *testing.T, src []byte) {
	t.Helper()
	for _, o := range allOptions {
		want, wantErr := referenceCanonical(src, o)
		got, err := Append([]byte("prefix:"), src, o)
		switch {
		case !json.Valid(src):
			if err == nil {
				t.Fatalf("%q %+v: accepted invalid JSON as %q", src, o, got)
			}
			if !errors.Is(err, errSyntax) {
				t.Fatalf("%q %+v: error %v does not say the JSON is invalid", src, o, err)
			}
		case wantErr != nil:
			t.Fatalf("%q %+v: the reference refuses it (%v)", src, o, wantErr)
		case err != nil:
			t.Fatalf("%q %+v: %v", src, o, err)
		case !bytes.Equal(got, append([]byte("prefix:"), want...)):
			t.Fatalf("%q %+v:\n got %q\nwant prefix:%q", src, o, got, want)
		}
	}
}

func TestCanonicalJSONAgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `null`, `true`, ` false `, `""`, `0`, `-0`, `-0.0`, `1.50`, `100000.0`, `1e21`, `1E-7`, `1e400`,
		`9223372036854775807`, `9223372036854775808`, `-9223372036854775809`, `0.000001`, `123456789012345678901234567890`,
		`{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a":{"z":1,"y":[3,{"d":1,"c":2}]},"a":{"x":1}}`,
		`{"a\u0062":1,"ab":2,"aa":3}`, `{"\u00e9":1,"é":2,"e":3}`,
		`"<a href=\"x\">&amp;</a>"`, `"\u003c\u003e\u0026"`, `"\/\b\f\n\r\t\u0001\u001f\u007f"`, "\"\u2028\u2029\"",
		`"\ud83d\ude00 \ud83d x \ude00"`, "\"bad \xff utf8\"", "{\"k\xfe\":1}", "\"tab\tinside\"", `"\x"`, `"abc\`,
		`{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{"a":1} x`, `01`, `1.`, `.5`, `-`, `1e`, `+1`, `tru`, `nul`, `{`, `[`, ` `,
		` { "a" : [ 1 , 2 ] , "b" : { } } `,
	}
	for _, c := range cases {
		checkCanonical(t, []byte(c))
	}
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	for _, ex := range [][]byte{examples.EventCreate, examples.EventUpdate} {
		if err := json.Unmarshal(ex, &envelope); err != nil {
			t.Fatal(err)
		}
		checkCanonical(t, ex)
		checkCanonical(t, envelope.Data)
	}
	// Large objects, members in every order and names repeated: the
	// member sort must keep the last of equal names wherever they are.
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2, 3, 17, 300, 2000} {
		var b strings.Builder
		b.WriteByte('{')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k%d":"<%d> & \u00e9 %d"`, rng.IntN(n/2+1), i, rng.Int64())
		}
		b.WriteByte('}')
		checkCanonical(t, []byte(b.String()))
	}
	deep := strings.Repeat("[", maxCanonicalDepth+1) + strings.Repeat("]", maxCanonicalDepth+1)
	if _, err := Append(nil, []byte(deep), Options{}); err == nil {
		t.Errorf("nesting beyond %d levels accepted", maxCanonicalDepth)
	}
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[1.0,"<x>",{"d":null,"c":true}]}`, `{"a":1,"a":{"\u0061":2}}`, `"\u2028\ud800"`, `-0.0e-7`, `[1e400, 12345678901234567890]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 4096 {
			return
		}
		checkCanonical(t, src)
	})
}

// BenchmarkCanonicalJSON canonicalises Ingresse's event-create example.
func BenchmarkCanonicalJSON(b *testing.B) {
	b.ReportAllocs()
	var dst []byte
	var err error
	for b.Loop() {
		if dst, err = Append(dst[:0], examples.EventCreate, Options{EscapeHTML: true, NormaliseNumbers: true}); err != nil {
			b.Fatal(err)
		}
	}
}
