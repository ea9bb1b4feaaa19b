package eventstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// strOf is a string member of the spec, "" when it is null.
func strOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestCompareVersions(t *testing.T) {
	t0 := time.Date(2018, 3, 6, 20, 49, 4, 0, time.UTC)
	a, b := [32]byte{1}, [32]byte{2}
	for _, tc := range []struct {
		name             string
		incoming, stored version
		want             verdict
	}{
		{"same spec, newer timestamp: a retry, never a write", version{t0, t0.Add(time.Hour), a, false, false}, version{t0, t0, a, false, false}, verdictUnchanged},
		{"same spec, same timestamps", version{t0, t0, a, false, false}, version{t0, t0, a, false, false}, verdictUnchanged},
		{"same spec, older timestamps", version{t0, t0, a, false, false}, version{t0.Add(time.Hour), t0.Add(time.Hour), a, false, false}, verdictUnchanged},
		{"newer updatedAt", version{t0.Add(time.Nanosecond), t0, a, false, false}, version{t0, t0.Add(time.Hour), b, false, false}, verdictNewer},
		{"older updatedAt, newer timestamp", version{t0, t0.Add(time.Hour), b, false, false}, version{t0.Add(time.Second), t0, a, false, false}, verdictStale},
		{"same updatedAt, newer timestamp", version{t0, t0.Add(time.Second), a, false, false}, version{t0, t0, b, false, false}, verdictNewer},
		{"same updatedAt, older timestamp", version{t0, t0, b, false, false}, version{t0, t0.Add(time.Second), a, false, false}, verdictStale},
		{"full tie, larger digest", version{t0, t0, b, false, false}, version{t0, t0, a, false, false}, verdictNewer},
		{"full tie, smaller digest", version{t0, t0, a, false, false}, version{t0, t0, b, false, false}, verdictStale},
		{"stored without updatedAt is oldest", version{t0, t0, a, false, false}, version{time.Time{}, t0.Add(time.Hour), b, false, false}, verdictNewer},
		{"stored without timestamp annotation loses the tie", version{t0, t0, a, false, false}, version{t0, time.Time{}, b, false, false}, verdictNewer},
		{"same updatedAt: the API's copy beats a webhook's, even an older read", version{t0, t0, a, true, false}, version{t0, t0.Add(time.Hour), b, false, false}, verdictNewer},
		{"same updatedAt: a webhook retried after the sweep loses", version{t0, t0.Add(time.Hour), b, false, false}, version{t0, t0, a, true, false}, verdictStale},
		{"newer updatedAt from a webhook beats the API's copy", version{t0.Add(time.Second), t0, b, false, false}, version{t0, t0.Add(time.Hour), a, true, false}, verdictNewer},
		{"the API going backwards never regresses", version{t0, t0.Add(time.Hour), b, true, false}, version{t0.Add(time.Second), t0, a, false, false}, verdictStale},
		{"the API's copy equal to the stored spec is unchanged here (the store confirms it)", version{t0, t0, a, true, false}, version{t0, t0, a, false, false}, verdictUnchanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := compareVersions(tc.incoming, tc.stored); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStoredVersionOfUnreadableObjects(t *testing.T) {
	for name, updatedAt := range map[string]*string{"unparsable": new("not a time"), "null or missing": nil} {
		t.Run(name, func(t *testing.T) {
			obj := &eventsv1alpha1.IngresseEvent{}
			obj.Spec.ID = 1
			obj.Spec.UpdatedAt = updatedAt
			obj.Annotations = map[string]string{eventsv1alpha1.AnnotationWebhookTimestamp: "garbage"}
			if v := storedVersion(obj, noClockLimit); !v.updatedAt.IsZero() || !v.timestamp.IsZero() {
				t.Fatalf("unreadable times must count as oldest, got %+v", v)
			}
		})
	}
}

// TestExampleDigest pins the digest of Ingresse's two examples (the same
// data), as it was before members became nullable: the canonical form of a
// spec Ingresse sends in full does not move with the types.
func TestExampleDigest(t *testing.T) {
	const want = "9d815200de9a187e37a05b7bfe5fa74b9b626c16081b63e7e9d6f55aa49803de"
	for _, ex := range examples.All() {
		var envelope struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(ex.Body, &envelope); err != nil {
			t.Fatal(err)
		}
		spec, _, err := DecodeEventData(envelope.Data)
		if err != nil {
			t.Fatal(err)
		}
		digest, err := SpecDigest(&spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(digest[:]); got != want {
			t.Errorf("%s: digest %s, want %s", ex.Name, got, want)
		}
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
		d, err := SpecDigest(&spec)
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
		{"absent and null title: the types do not tell them apart", `{"id":1}`, `{"id":1,"title":null}`, true},
		{"null and empty title", `{"id":1,"title":null}`, `{"id":1,"title":""}`, false},
		{"null and 0 companyId", `{"id":1,"companyId":null}`, `{"id":1,"companyId":0}`, false},
		{"null and 0 status.id", `{"id":1,"status":{"id":null}}`, `{"id":1,"status":{"id":0}}`, false},
		{"absent and null place", `{"id":1}`, `{"id":1,"place":null}`, true},
		{"null and empty place", `{"id":1,"place":null}`, `{"id":1,"place":{}}`, false},
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

// TestVersionAnnotationIsTrustedOnlyForItsGeneration: the version in
// metadata stands for the spec only when it was written at the object's
// generation and is whole; anything else (stored before it existed, a spec
// changed by another writer, a hand-edited or cut value) makes the store
// read the spec.
func TestVersionAnnotationIsTrustedOnlyForItsGeneration(t *testing.T) {
	at := time.Date(2026, 12, 1, 20, 0, 0, 123456000, time.UTC)
	digest := sha256.Sum256([]byte("a spec"))
	good := formatVersionAnnotation(7, at, digest)
	hexDigest := hex.EncodeToString(digest[:])
	for _, tc := range []struct {
		name       string
		annotation string
		generation int64
		trusted    bool
	}{
		{"written at this generation", good, 7, true},
		{"no updatedAt", formatVersionAnnotation(7, time.Time{}, digest), 7, true},
		{"absent", "", 7, false},
		{"an older generation: the spec changed since", good, 8, false},
		{"a later generation", good, 6, false},
		{"generation 0 (never stored)", formatVersionAnnotation(0, at, digest), 0, false},
		{"digest cut short", "7/" + at.Format(time.RFC3339Nano) + "/" + hexDigest[:63], 7, false},
		{"digest too long", good + "0", 7, false},
		{"digest not hex", "7/" + at.Format(time.RFC3339Nano) + "/" + strings.Repeat("zz", 32), 7, false},
		{"updatedAt unreadable", "7/yesterday/" + hexDigest, 7, false},
		{"a part missing", "7/" + hexDigest, 7, false},
		{"generation not a number", "seven/" + at.Format(time.RFC3339Nano) + "/" + hexDigest, 7, false},
		{"generation with a sign", "+7/" + at.Format(time.RFC3339Nano) + "/" + hexDigest, 7, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := &metav1.ObjectMeta{Generation: tc.generation, Annotations: map[string]string{
				eventsv1alpha1.AnnotationSource:           eventsv1alpha1.SourceIngresseAPI,
				eventsv1alpha1.AnnotationWebhookTimestamp: at.Add(time.Minute).Format(time.RFC3339Nano),
			}}
			if tc.annotation != "" {
				meta.Annotations[eventsv1alpha1.AnnotationVersion] = tc.annotation
			}
			v, ok := metadataVersion(meta, at.Add(time.Hour))
			if ok != tc.trusted {
				t.Fatalf("trusted %v, want %v", ok, tc.trusted)
			}
			if !ok {
				return
			}
			want := version{digest: digest, fromSource: true, timestamp: at.Add(time.Minute)}
			if tc.name == "written at this generation" {
				want.updatedAt = at
			}
			if v != want {
				t.Errorf("version %+v, want %+v", v, want)
			}
			if _, ok := metadataVersion(meta, at.Add(-time.Hour)); !ok {
				t.Error("not read when dated beyond the clock")
			} else if v, _ := metadataVersion(meta, at.Add(-time.Hour)); tc.name == "written at this generation" && (!v.aheadOfClock || !v.updatedAt.IsZero()) {
				t.Errorf("a version dated beyond the clock reads as %+v", v)
			}
		})
	}
}
