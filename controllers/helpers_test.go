package controllers

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/hack/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// decodeSpec decodes an event as the API types do.
func decodeSpec(t testing.TB, data []byte) eventsv1alpha1.IngresseEventSpec {
	t.Helper()
	var spec eventsv1alpha1.IngresseEventSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatalf("decoding the spec: %v", err)
	}
	return spec
}

// seedSpec is the event of Ingresse's event-create example.
func seedSpec(t testing.TB) eventsv1alpha1.IngresseEventSpec {
	t.Helper()
	return decodeSpec(t, testenv.SeedData(t, examples.EventCreate))
}

// specWith decodes the seed, lets edit change it as a generic JSON object,
// and decodes the result: the way to build a variant that still looks like
// what Ingresse sends.
func specWith(t testing.TB, edit func(m map[string]any)) eventsv1alpha1.IngresseEventSpec {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(testenv.SeedData(t, examples.EventCreate), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return decodeSpec(t, raw)
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// cIdentifier is what a POSIX shell and every envFrom consumer accept as a
// variable name.
var cIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
