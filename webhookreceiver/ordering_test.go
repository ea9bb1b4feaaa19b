package webhookreceiver

import (
	"encoding/json"
	"testing"
	"time"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

func TestCompareVersions(t *testing.T) {
	t0 := time.Date(2018, 3, 6, 20, 49, 4, 0, time.UTC)
	a, b := [32]byte{1}, [32]byte{2}
	for _, tc := range []struct {
		name             string
		incoming, stored version
		want             verdict
	}{
		{"same spec, newer timestamp: a retry, never a write", version{t0, t0.Add(time.Hour), a}, version{t0, t0, a}, verdictUnchanged},
		{"same spec, same timestamps", version{t0, t0, a}, version{t0, t0, a}, verdictUnchanged},
		{"same spec, older timestamps", version{t0, t0, a}, version{t0.Add(time.Hour), t0.Add(time.Hour), a}, verdictUnchanged},
		{"newer updatedAt", version{t0.Add(time.Nanosecond), t0, a}, version{t0, t0.Add(time.Hour), b}, verdictNewer},
		{"older updatedAt, newer timestamp", version{t0, t0.Add(time.Hour), b}, version{t0.Add(time.Second), t0, a}, verdictStale},
		{"same updatedAt, newer timestamp", version{t0, t0.Add(time.Second), a}, version{t0, t0, b}, verdictNewer},
		{"same updatedAt, older timestamp", version{t0, t0, b}, version{t0, t0.Add(time.Second), a}, verdictStale},
		{"full tie, larger digest", version{t0, t0, b}, version{t0, t0, a}, verdictNewer},
		{"full tie, smaller digest", version{t0, t0, a}, version{t0, t0, b}, verdictStale},
		{"stored without updatedAt is oldest", version{t0, t0, a}, version{time.Time{}, t0.Add(time.Hour), b}, verdictNewer},
		{"stored without timestamp annotation loses the tie", version{t0, t0, a}, version{t0, time.Time{}, b}, verdictNewer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := compareVersions(tc.incoming, tc.stored); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStoredVersionOfUnreadableObjects(t *testing.T) {
	obj := &eventsv1alpha1.IngresseEvent{}
	obj.Spec.UpdatedAt = "not a time"
	obj.Annotations = map[string]string{eventsv1alpha1.AnnotationWebhookTimestamp: "garbage"}
	v := storedVersion(obj)
	if !v.updatedAt.IsZero() || !v.timestamp.IsZero() {
		t.Fatalf("unparsable times must count as oldest, got %+v", v)
	}
}

// TestCanonicalJSON: specs that the API server stores identically have
// the same digest, and specs that differ do not.
func TestCanonicalJSON(t *testing.T) {
	digest := func(data string) [32]byte {
		t.Helper()
		var spec eventsv1alpha1.IngresseEventSpec
		if err := json.Unmarshal([]byte(data), &spec); err != nil {
			t.Fatal(err)
		}
		d, err := specDigest(&spec)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name  string
		a, b  string
		equal bool
	}{
		{"member order and white space", `{"id":1,"title":"x","slug":"y"}`, `{ "slug" : "y", "title":"x", "id":1 }`, true},
		{"100000.0 as stored back", `{"id":1,"attributes":{"t":{"name":"t","value":100000.0}}}`, `{"id":1,"attributes":{"t":{"name":"t","value":100000}}}`, true},
		{"exponent", `{"id":1,"future":{"n":1e2}}`, `{"id":1,"future":{"n":100}}`, true},
		{"unknown members nested", `{"id":1,"future":{"b":1,"a":[1,{"y":2,"x":1}]}}`, `{"id":1,"future":{"a":[1,{"x":1,"y":2}],"b":1}}`, true},
		{"absent and empty title", `{"id":1}`, `{"id":1,"title":""}`, true},
		{"different title", `{"id":1,"title":"x"}`, `{"id":1,"title":"y"}`, false},
		{"1.5 and 1.50 are one number", `{"id":1,"place":{"location":{"lat":1.5}}}`, `{"id":1,"place":{"location":{"lat":1.50}}}`, true},
		{"null and absent place.city", `{"id":1,"place":{"city":null}}`, `{"id":1,"place":{"city":"x"}}`, false},
		{"different attribute value", `{"id":1,"attributes":{"s":{"name":"s","value":true}}}`, `{"id":1,"attributes":{"s":{"name":"s","value":false}}}`, false},
		{"unknown member added", `{"id":1}`, `{"id":1,"new":null}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := digest(tc.a) == digest(tc.b); got != tc.equal {
				t.Fatalf("equal = %v, want %v", got, tc.equal)
			}
		})
	}
}
