package v1alpha1_test

import (
	"encoding/json"
	"strings"
	"testing"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// withFutureFields adds a member this version does not know at every level
// Ingresse nests objects, as if Ingresse shipped new fields tomorrow.
func withFutureFields(t testing.TB, data []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["ageRating"] = map[string]any{"min": 18, "note": nil, "ratio": 0.25}
	m["Title"] = "a differently cased member is a different member"
	m["status"].(map[string]any)["color"] = "#ff0000"
	place := m["place"].(map[string]any)
	place["capacity"] = 12000
	place["location"].(map[string]any)["alt"] = 4.75
	m["poster"].(map[string]any)["xxLarge"] = "https://example.com/xx.jpg"
	m["sessions"].([]any)[0].(map[string]any)["capacity"] = []any{1, 2.5, "three", nil, true}
	attrs := m["attributes"].(map[string]any)
	attrs["saleEnabled"].(map[string]any)["editable"] = false
	attrs["brandNew"] = map[string]any{"name": "brand_new", "value": 1e-7}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// nullableScalars are the paths of the documented scalar members that may
// be null: all but id. A number in a path indexes an array.
var nullableScalars = []string{
	"title", "slug", "description", "companyId", "producerId", "createdAt", "updatedAt",
	"status.id", "status.name", "place.id", "sessions.0.id", "sessions.0.dateTime", "sessions.0.status",
	"attributes.saleEnabled.name",
}

// nullableObjects are the paths of the documented objects that may be null
// and that Ingresse's examples send as objects.
var nullableObjects = []string{"status", "place", "poster", "attributes"}

// withNull returns data with the members at paths set to null.
func withNull(t testing.TB, data []byte, paths ...string) []byte {
	t.Helper()
	return editMembers(t, data, func(parent map[string]any, name string) { parent[name] = nil }, paths)
}

// without returns data with the members at paths left out.
func without(t testing.TB, data []byte, paths ...string) []byte {
	t.Helper()
	return editMembers(t, data, func(parent map[string]any, name string) { delete(parent, name) }, paths)
}

func editMembers(t testing.TB, data []byte, edit func(parent map[string]any, name string), paths []string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	testenv.EachMember(m, edit, paths...)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSpecRoundTripKeepsEveryMember(t *testing.T) {
	for _, ex := range examples.All() {
		data := testenv.SeedData(t, ex.Body)
		cases := map[string][]byte{
			ex.Name:                        data,
			ex.Name + " with new fields":   withFutureFields(t, data),
			ex.Name + " with null scalars": withNull(t, data, nullableScalars...),
			ex.Name + " with null objects": withNull(t, data, nullableObjects...),
		}
		for name, payload := range cases {
			t.Run(name, func(t *testing.T) {
				var spec eventsv1alpha1.IngresseEventSpec
				if err := json.Unmarshal(payload, &spec); err != nil {
					t.Fatalf("decoding: %v", err)
				}
				out, err := json.Marshal(spec)
				if err != nil {
					t.Fatalf("encoding: %v", err)
				}
				if ok, where := testenv.JSONEqual(payload, out); !ok {
					t.Fatalf("round trip changed the payload at %s\n%s", where, out)
				}
				// A deep copy must carry the unknown members too.
				copied, err := json.Marshal(spec.DeepCopy())
				if err != nil {
					t.Fatal(err)
				}
				if ok, where := testenv.JSONEqual(payload, copied); !ok {
					t.Fatalf("deep copy lost %s", where)
				}
			})
		}
	}
}

func TestSpecDecodingIsCaseSensitive(t *testing.T) {
	var spec eventsv1alpha1.IngresseEventSpec
	if err := json.Unmarshal([]byte(`{"id": 7, "Title": "upper", "title": "lower"}`), &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Title == nil || *spec.Title != "lower" {
		t.Errorf("title = %v, want lower", spec.Title)
	}
	if got := string(spec.Unknown["Title"].Raw); got != `"upper"` {
		t.Errorf("unknown Title = %s, want \"upper\"", got)
	}
}

func TestSpecKeepsTypedSeedValues(t *testing.T) {
	var spec eventsv1alpha1.IngresseEventSpec
	if err := json.Unmarshal(testenv.SeedData(t, examples.EventCreate), &spec); err != nil {
		t.Fatal(err)
	}
	if spec.ID != 21447 || *spec.CompanyID != 1 || *spec.ProducerID != 297229 || *spec.Status.ID != 3 || *spec.Place.ID != 13970 {
		t.Errorf("ids = %d/%d/%d/%d/%d", spec.ID, *spec.CompanyID, *spec.ProducerID, *spec.Status.ID, *spec.Place.ID)
	}
	if *spec.Place.Location.Lat != "-10.59" || *spec.Place.Location.Lon != "-37.38" {
		t.Errorf("location = %s,%s", *spec.Place.Location.Lat, *spec.Place.Location.Lon)
	}
	if spec.Place.City != nil {
		t.Errorf("city = %q, want null", *spec.Place.City)
	}
	if got := string(spec.Attributes["retentionThreshold"].Value.Raw); got != "100000.0" {
		t.Errorf("retentionThreshold = %s, want the number as sent", got)
	}
	if len(spec.Sessions) != 1 || *spec.Sessions[0].DateTime != "2017-12-01T20:00:00+00:00" {
		t.Errorf("sessions = %+v", spec.Sessions)
	}
	if len(spec.Unknown) != 0 {
		t.Errorf("the seed has no unknown member, got %v", spec.Unknown)
	}
}

func TestNumberRejectsNonNumbers(t *testing.T) {
	for _, in := range []string{`"-10.59"`, `true`, `{}`, `[1]`, `1e999`, `-`, `NaN`} {
		var n eventsv1alpha1.Number
		if err := json.Unmarshal([]byte(in), &n); err == nil {
			t.Errorf("%s: accepted as %q", in, n)
		}
	}
	for _, in := range []string{`0`, `-10.59`, `100000.0`, `1e-7`, `12345678901234567890`} {
		var n eventsv1alpha1.Number
		if err := json.Unmarshal([]byte(in), &n); err != nil || string(n) != in {
			t.Errorf("%s: got %q, %v", in, n, err)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"2018-04-02T13:57:04.770619":       "2018-04-02T13:57:04.770619Z",
		"2019-03-12T19:32:46Z":             "2019-03-12T19:32:46Z",
		"2018-03-06T20:49:04.468967+00:00": "2018-03-06T20:49:04.468967Z",
		"2017-12-01T20:00:00-03:00":        "2017-12-01T23:00:00Z",
	} {
		got, err := eventsv1alpha1.ParseTime(in)
		if err != nil || got.Format("2006-01-02T15:04:05.999999Z07:00") != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2018-13-01T00:00:00Z", "1522677424", strings.Repeat("9", 100)} {
		if _, err := eventsv1alpha1.ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) accepted", in)
		}
	}
}
