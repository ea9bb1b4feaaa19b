package controllers

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
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
	return decodeSpec(t, seedWith(t, edit))
}

// seedWith is the seed's data edited by edit, as JSON.
func seedWith(t testing.TB, edit func(m map[string]any)) []byte {
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
	return raw
}

// setMembers returns an edit for seedWith that calls set on the parent of
// each member at paths ("status.id"; a number indexes an array) with the
// member's name.
func setMembers(set func(parent map[string]any, name string), paths ...string) func(m map[string]any) {
	return func(m map[string]any) { testenv.EachMember(m, set, paths...) }
}

// toNull and leaveOut are the edits setMembers makes: the member sent as
// null, or not sent at all.
func toNull(parent map[string]any, name string)   { parent[name] = nil }
func leaveOut(parent map[string]any, name string) { delete(parent, name) }

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
