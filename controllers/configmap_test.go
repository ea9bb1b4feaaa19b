package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// coreKeys is the documented key set every ConfigMap has, whatever the event.
var coreKeys = []string{
	"EVENT_ID", "EVENT_TITLE", "EVENT_SLUG", "EVENT_STATUS", "EVENT_STATUS_ID",
	"EVENT_COMPANY_ID", "EVENT_PRODUCER_ID", "EVENT_CREATED_AT", "EVENT_UPDATED_AT",
	"EVENT_PLACE_ID", "EVENT_PLACE_NAME", "EVENT_PLACE_STREET", "EVENT_PLACE_CITY", "EVENT_PLACE_STATE",
	"EVENT_PLACE_ZIP", "EVENT_PLACE_COUNTRY", "EVENT_PLACE_LAT", "EVENT_PLACE_LON",
	"EVENT_POSTER_SMALL", "EVENT_POSTER_MEDIUM", "EVENT_POSTER_LARGE", "EVENT_POSTER_XLARGE",
	"EVENT_SESSION_COUNT", "EVENT_NEXT_SESSION_ID", "EVENT_NEXT_SESSION_DATETIME",
}

// seedContentHash is the content hash of the seeds' ConfigMap computed from
// the seed as sent, pinned from before members became nullable: the
// published examples' ConfigMaps must not change with the types.
const seedContentHash = "89bb04aea10e1ed858231c998a14551ebc8c6332b37d5e2b6d224efef90730c5"

func TestDesiredContentSeeds(t *testing.T) {
	// The seed's only session (2017-12-01T20:00:00+00:00) is long over.
	now := mustTime(t, "2026-11-27T20:00:00Z")
	want := map[string]string{
		"EVENT_ID":                    "21447",
		"EVENT_TITLE":                 "Webhook Example",
		"EVENT_SLUG":                  "webhook-example",
		"EVENT_STATUS":                "private",
		"EVENT_STATUS_ID":             "3",
		"EVENT_COMPANY_ID":            "1",
		"EVENT_PRODUCER_ID":           "297229",
		"EVENT_CREATED_AT":            "2018-03-06T20:49:04.468967+00:00",
		"EVENT_UPDATED_AT":            "2018-03-06T20:49:04.468974+00:00",
		"EVENT_PLACE_ID":              "13970",
		"EVENT_PLACE_NAME":            "Sergipe",
		"EVENT_PLACE_STREET":          "",
		"EVENT_PLACE_CITY":            "",
		"EVENT_PLACE_STATE":           "",
		"EVENT_PLACE_ZIP":             "",
		"EVENT_PLACE_COUNTRY":         "",
		"EVENT_PLACE_LAT":             "-10.59",
		"EVENT_PLACE_LON":             "-37.38",
		"EVENT_POSTER_SMALL":          "https://event-kraken.s3.amazonaws.com/event/posters/21447/small.jpg",
		"EVENT_POSTER_MEDIUM":         "https://event-kraken.s3.amazonaws.com/event/posters/21447/medium.jpg",
		"EVENT_POSTER_LARGE":          "https://event-kraken.s3.amazonaws.com/event/posters/21447/large.jpg",
		"EVENT_POSTER_XLARGE":         "https://event-kraken.s3.amazonaws.com/event/posters/21447/xLarge.jpg",
		"EVENT_SESSION_COUNT":         "1",
		"EVENT_NEXT_SESSION_ID":       "",
		"EVENT_NEXT_SESSION_DATETIME": "",

		"EVENT_ATTR_ACCEPTED_APPS":            "",
		"EVENT_ATTR_ACCOUNT_MODE":             "false",
		"EVENT_ATTR_ADVERTISEMENT":            `{"mobile":{"background":null,"cover":null,"filter":null,"ticket":null},"web":{"background":null,"cover":null,"filter":null,"ticket":null}}`,
		"EVENT_ATTR_CPF_TICKETS_LIMIT":        "3",
		"EVENT_ATTR_CREDITCARD_LIMIT":         "2",
		"EVENT_ATTR_CUSTOM_CODE":              "false",
		"EVENT_ATTR_INVOICE_IDENTIFIER":       "",
		"EVENT_ATTR_PRINT_DATA":               `{"address":null,"aiddp":"","complement":"","document":"","formalName":"","municipalId":""}`,
		"EVENT_ATTR_RETENTION_PERCENTAGE":     "1.5",
		"EVENT_ATTR_RETENTION_THRESHOLD":      "100000.0",
		"EVENT_ATTR_SALE_ENABLED":             "true",
		"EVENT_ATTR_TICKET_TRANSFER_ENABLED":  "true",
		"EVENT_ATTR_TICKET_TRANSFER_REQUIRED": "false",
		"EVENT_ATTR_VIDEO_URL":                "",

		"sessions.json": `[{"dateTime":"2017-12-01T20:00:00+00:00","id":32864,"status":"finished"}]`,
	}
	for _, ex := range examples.All() {
		t.Run(ex.Name, func(t *testing.T) {
			data := testenv.SeedData(t, ex.Body)
			spec := decodeSpec(t, data)
			got, err := desiredContent(&spec, now, DefaultMaxConfigMapDataBytes)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range want {
				if got.data[k] != v {
					t.Errorf("%s = %q, want %q", k, got.data[k], v)
				}
			}
			if ok, where := testenv.JSONEqual(data, []byte(got.data[keyEventJSON])); !ok {
				t.Errorf("event.json differs from the seed at %s", where)
			}
			if len(got.data) != len(want)+1 {
				t.Errorf("%d keys, want %d: %v", len(got.data), len(want)+1, slices.Sorted(maps.Keys(got.data)))
			}
			if !strings.Contains(got.data[keyEventJSON], `"value":100000.0`) {
				t.Errorf("event.json changed the number 100000.0")
			}
			if len(got.omitted) != 0 || got.hash != dataHash(got.data, nil) {
				t.Errorf("omitted %v, hash %s", got.omitted, got.hash)
			}
			if got.hash != seedContentHash {
				t.Errorf("content hash %s, want %s: the seed's ConfigMap changed", got.hash, seedContentHash)
			}
			assertValidKeys(t, got.data)
		})
	}
}

func TestDesiredContentEventJSONIsCanonical(t *testing.T) {
	data := testenv.SeedData(t, examples.EventCreate)
	// Unknown members at several levels must come through, sorted.
	spec := specWith(t, func(m map[string]any) {
		m["ageRating"] = map[string]any{"min": 18, "note": nil}
		m["place"].(map[string]any)["capacity"] = 12000
		m["description"] = "<b>Rock & roll</b>"
	})
	got, err := desiredContent(&spec, time.Unix(0, 0), DefaultMaxConfigMapDataBytes)
	if err != nil {
		t.Fatal(err)
	}
	ej := got.data[keyEventJSON]
	for _, want := range []string{`"ageRating":{"min":18,"note":null}`, `"capacity":12000`, `"description":"<b>Rock & roll</b>"`, `"lat":-10.59`} {
		if !strings.Contains(ej, want) {
			t.Errorf("event.json lacks %s:\n%s", want, ej)
		}
	}
	if strings.ContainsAny(ej, "\n\t") || strings.Contains(ej, `": `) {
		t.Errorf("event.json is not compact:\n%s", ej)
	}
	if !strings.HasPrefix(ej, `{"ageRating":`) || strings.Index(ej, `"attributes"`) > strings.Index(ej, `"categories"`) {
		t.Errorf("event.json members are not sorted:\n%s", ej)
	}
	// Decoding and encoding again gives the same bytes.
	again := decodeSpec(t, []byte(ej))
	got2, err := desiredContent(&again, time.Unix(0, 0), DefaultMaxConfigMapDataBytes)
	if err != nil || got2.data[keyEventJSON] != ej || got2.hash != got.hash {
		t.Errorf("not stable through a round trip (err %v)", err)
	}
	// The seed as sent and as canonicalised hold the same thing.
	plain := seedSpec(t)
	seedContent, _ := desiredContent(&plain, time.Unix(0, 0), DefaultMaxConfigMapDataBytes)
	if ok, where := testenv.JSONEqual(data, []byte(seedContent.data[keyEventJSON])); !ok {
		t.Errorf("event.json differs from the seed at %s", where)
	}
}

func TestDesiredContentKeySetIsStable(t *testing.T) {
	// A bare event has every core key, empty, and empty sessions.
	bare := decodeSpec(t, []byte(`{"id": 7, "place": null, "poster": null, "status": null, "sessions": null}`))
	got, err := desiredContent(&bare, time.Unix(0, 0), DefaultMaxConfigMapDataBytes)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := append(slices.Clone(coreKeys), keyEventJSON, keySessionsJSON)
	if keys := slices.Sorted(maps.Keys(got.data)); !slices.Equal(keys, slices.Sorted(slices.Values(wantKeys))) {
		t.Fatalf("keys = %v, want %v", keys, wantKeys)
	}
	for _, k := range coreKeys {
		want := ""
		switch k {
		case "EVENT_ID":
			want = "7"
		case "EVENT_SESSION_COUNT":
			want = "0"
		}
		if got.data[k] != want {
			t.Errorf("%s = %q, want %q", k, got.data[k], want)
		}
	}
	if got.data[keySessionsJSON] != "[]" {
		t.Errorf("sessions.json = %s, want []", got.data[keySessionsJSON])
	}
	// The members left out are written as null, as the Go types store them.
	if ok, where := testenv.JSONEqual([]byte(`{"id":7,"title":null,"slug":null,"description":null,"companyId":null,"producerId":null,"createdAt":null,"updatedAt":null,"status":null,"place":null,"poster":null,"sessions":null,"categories":null,"attributes":null,"usersPermission":null}`), []byte(got.data[keyEventJSON])); !ok {
		t.Errorf("event.json of a bare event: %s (%s)", got.data[keyEventJSON], where)
	}

	// A place whose location is null leaves lat/lon empty too.
	noLocation := specWith(t, func(m map[string]any) { m["place"].(map[string]any)["location"] = nil })
	got, _ = desiredContent(&noLocation, time.Unix(0, 0), DefaultMaxConfigMapDataBytes)
	if got.data["EVENT_PLACE_LAT"] != "" || got.data["EVENT_PLACE_NAME"] != "Sergipe" {
		t.Errorf("lat %q, name %q", got.data["EVENT_PLACE_LAT"], got.data["EVENT_PLACE_NAME"])
	}
}

// storedSeedContentHash is the content hash of the seeds' ConfigMap as the
// controller writes it from the event stored on the API server (which
// keeps 100000.0 as 100000), pinned from before members became nullable.
const storedSeedContentHash = "6043f06d3d59cd01ad5d56eda83a352ef0bf940ae4cc4096ff11c2a7e733fb0c"

// TestConfigMapOfNullMembers runs the controller on the API server for the
// published examples and for variants of the seed whose members are null or
// left out: the examples' ConfigMaps are what they always were; a null or
// missing member keeps its key, empty (never a made-up 0), and changes no
// other key; and the event stored keeps the null.
func TestConfigMapOfNullMembers(t *testing.T) {
	ids := []string{"companyId", "producerId", "status.id", "place.id"}
	texts := []string{"title", "slug", "description", "createdAt", "updatedAt", "status.name", "place.name"}
	members := append(slices.Clone(ids), texts...)
	emptied := []string{"EVENT_COMPANY_ID", "EVENT_PRODUCER_ID", "EVENT_STATUS_ID", "EVENT_PLACE_ID",
		"EVENT_TITLE", "EVENT_SLUG", "EVENT_CREATED_AT", "EVENT_UPDATED_AT", "EVENT_STATUS", "EVENT_PLACE_NAME"}
	objects := []string{"status", "place", "poster"}
	objectKeys := []string{"EVENT_STATUS", "EVENT_STATUS_ID", "EVENT_PLACE_ID", "EVENT_PLACE_NAME", "EVENT_PLACE_STREET",
		"EVENT_PLACE_CITY", "EVENT_PLACE_STATE", "EVENT_PLACE_ZIP", "EVENT_PLACE_COUNTRY", "EVENT_PLACE_LAT", "EVENT_PLACE_LON",
		"EVENT_POSTER_SMALL", "EVENT_POSTER_MEDIUM", "EVENT_POSTER_LARGE", "EVENT_POSTER_XLARGE"}

	seed := testenv.SeedData(t, examples.EventCreate)
	seedCM, stored := configMapOfEvent(t, seed)
	if ok, where := testenv.JSONEqual(seed, stored); !ok {
		t.Fatalf("the seed was stored changed at %s", where)
	}
	if got := seedCM.Annotations[eventsv1alpha1.AnnotationContentHash]; got != storedSeedContentHash || dataHash(seedCM.Data, nil) != got {
		t.Fatalf("the seed's ConfigMap has the content hash %s, want %s: it changed", got, storedSeedContentHash)
	}

	cases := []struct {
		name string
		// sent is the event's data; stored, what the API server must
		// hold (sent when nil).
		sent, stored []byte
		// changed are the keys whose value is not the seed's; every key
		// must be present, and every other key but event.json is the
		// seed's.
		changed map[string]string
	}{
		{name: "event-update example", sent: testenv.SeedData(t, examples.EventUpdate)},
		{
			name:    "ids and text members null",
			sent:    seedWith(t, setMembers(toNull, members...)),
			changed: emptyValues(emptied),
		},
		{
			// The Go types do not tell a member left out from a null one,
			// and store it as null.
			name:    "ids and text members left out",
			sent:    seedWith(t, setMembers(leaveOut, members...)),
			stored:  seedWith(t, setMembers(toNull, members...)),
			changed: emptyValues(emptied),
		},
		{
			name:    "status, place and poster null",
			sent:    seedWith(t, setMembers(toNull, objects...)),
			changed: emptyValues(objectKeys),
		},
		{
			name:    "an id sent as 0 is 0",
			sent:    seedWith(t, func(m map[string]any) { m["companyId"] = 0 }),
			changed: map[string]string{"EVENT_COMPANY_ID": "0"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.stored
			if want == nil {
				want = tc.sent
			}
			cm, stored := configMapOfEvent(t, tc.sent)
			if ok, where := testenv.JSONEqual(want, stored); !ok {
				t.Errorf("stored spec differs at %s", where)
			}
			if ok, where := testenv.JSONEqual(want, []byte(cm.Data[keyEventJSON])); !ok {
				t.Errorf("event.json differs from the stored spec at %s", where)
			}
			if keys := slices.Sorted(maps.Keys(cm.Data)); !slices.Equal(keys, slices.Sorted(maps.Keys(seedCM.Data))) {
				t.Errorf("keys %v, want the seed's %v", keys, slices.Sorted(maps.Keys(seedCM.Data)))
			}
			for k, wantValue := range seedCM.Data {
				if k == keyEventJSON {
					continue
				}
				if changed, ok := tc.changed[k]; ok {
					wantValue = changed
				}
				if got, ok := cm.Data[k]; !ok || got != wantValue {
					t.Errorf("%s = %q (present: %v), want %q", k, got, ok, wantValue)
				}
			}
		})
	}
}

// emptyValues maps each key to the empty string.
func emptyValues(keys []string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = ""
	}
	return m
}

// configMapOfEvent stores an IngresseEvent with the spec data through the
// Go types, as the receiver does, in a namespace of its own, runs the
// controller until it is Ready, and returns its ConfigMap and the spec as
// stored, read as raw JSON.
func configMapOfEvent(t *testing.T, data []byte) (*corev1.ConfigMap, []byte) {
	t.Helper()
	ns := env.Namespace(t)
	startManager(t, ns, &IngresseEventReconciler{})
	ev := newEvent(ns, decodeSpec(t, data))
	if err := env.Client.Create(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ev)
	waitForCondition(t, key, eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
	cm, err := getConfigMap(key)
	if err != nil {
		t.Fatal(err)
	}
	raw := &unstructured.Unstructured{}
	raw.SetGroupVersionKind(eventsv1alpha1.GroupVersion.WithKind("IngresseEvent"))
	if err := env.Client.Get(context.Background(), key, raw); err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(raw.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	return cm, spec
}

func TestDesiredContentNextSession(t *testing.T) {
	spec := specWith(t, func(m map[string]any) {
		m["sessions"] = []any{
			map[string]any{"id": 1, "dateTime": "2030-01-02T20:00:00-03:00", "status": "available"},
			map[string]any{"id": 2, "dateTime": "2030-01-01T20:00:00-03:00", "status": "available"},
		}
	})
	for _, tc := range []struct {
		now              string
		wantID, wantTime string
	}{
		{"2029-12-31T00:00:00Z", "2", "2030-01-01T20:00:00-03:00"},
		{"2030-01-01T23:00:00Z", "1", "2030-01-02T20:00:00-03:00"}, // session 2 started at 23:00 UTC exactly
		{"2030-01-03T00:00:00Z", "", ""},
	} {
		got, err := desiredContent(&spec, mustTime(t, tc.now), DefaultMaxConfigMapDataBytes)
		if err != nil {
			t.Fatal(err)
		}
		if got.data[keyNextSessionID] != tc.wantID || got.data[keyNextSessionDateTime] != tc.wantTime || got.data["EVENT_SESSION_COUNT"] != "2" {
			t.Errorf("at %s: next = %q at %q, count %s", tc.now, got.data[keyNextSessionID], got.data[keyNextSessionDateTime], got.data["EVENT_SESSION_COUNT"])
		}
	}

	// A next session Ingresse sent without an id has an empty id, not 0.
	noID := specWith(t, sessions(map[string]any{"id": nil, "dateTime": "2030-01-01T20:00:00-03:00", "status": "available"}))
	got, err := desiredContent(&noID, mustTime(t, "2029-12-31T00:00:00Z"), DefaultMaxConfigMapDataBytes)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := got.data[keyNextSessionID]; !ok || id != "" || got.data[keyNextSessionDateTime] != "2030-01-01T20:00:00-03:00" {
		t.Errorf("next session without an id: id %q (present: %v) at %q", id, ok, got.data[keyNextSessionDateTime])
	}
}

func TestDesiredContentSizeGuard(t *testing.T) {
	now := time.Unix(0, 0)
	hugeDescription := specWith(t, func(m map[string]any) { m["description"] = strings.Repeat("Lorem ipsum ", 100_000) })
	hugeAttributes := specWith(t, func(m map[string]any) {
		attrs := m["attributes"].(map[string]any)
		for i := range 8 {
			attrs[fmt.Sprintf("blob%d", i)] = map[string]any{"name": fmt.Sprintf("blob_%d", i), "value": strings.Repeat("x", 1000+i)}
		}
	})
	longDescription := specWith(t, func(m map[string]any) { m["description"] = strings.Repeat("x", 200_000) })
	longAttribute := specWith(t, func(m map[string]any) {
		m["attributes"].(map[string]any)["terms"] = map[string]any{"name": "terms", "value": strings.Repeat("t", maxEnvVarBytes)}
	})
	cases := []struct {
		name        string
		spec        eventsv1alpha1.IngresseEventSpec
		budget      int
		wantOmitted []string
		wantTooLong []string
	}{
		{
			name:        "a 1.2 MB description under the default budget loses event.json only",
			spec:        hugeDescription,
			budget:      DefaultMaxConfigMapDataBytes,
			wantOmitted: []string{keyEventJSON},
			wantTooLong: []string{keyEventJSON},
		},
		{
			// Under the budget, but envFrom would hand the kernel a
			// variable execve refuses: the container would never start.
			name:        "a 200 kB description: event.json is too long for an environment variable",
			spec:        longDescription,
			budget:      DefaultMaxConfigMapDataBytes,
			wantOmitted: []string{keyEventJSON},
			wantTooLong: []string{keyEventJSON},
		},
		{
			name:        "an attribute too long for an environment variable goes, and event.json that holds it",
			spec:        longAttribute,
			budget:      DefaultMaxConfigMapDataBytes,
			wantOmitted: []string{keyEventJSON, "EVENT_ATTR_TERMS"},
			wantTooLong: []string{keyEventJSON, "EVENT_ATTR_TERMS"},
		},
		{
			// event.json holds every blob, so it goes first; then the
			// largest blobs, one by one, until the rest fits.
			name:        "huge attributes lose the largest keys first until it fits",
			spec:        hugeAttributes,
			budget:      4000,
			wantOmitted: []string{keyEventJSON, "EVENT_ATTR_BLOB7", "EVENT_ATTR_BLOB6", "EVENT_ATTR_BLOB5", "EVENT_ATTR_BLOB4", "EVENT_ATTR_BLOB3", "EVENT_ATTR_BLOB2"},
		},
		{
			name:   "everything fits",
			spec:   hugeAttributes,
			budget: 100_000,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := desiredContent(&tc.spec, now, tc.budget)
			if err != nil {
				t.Fatal(err)
			}
			var omitted, tooLong []string
			for _, o := range got.omitted {
				omitted = append(omitted, o.key)
				if o.tooLongForEnv {
					tooLong = append(tooLong, o.key)
				}
				if _, still := got.data[o.key]; still {
					t.Errorf("%s reported omitted but present", o.key)
				}
			}
			if !slices.Equal(omitted, tc.wantOmitted) || !slices.Equal(tooLong, tc.wantTooLong) {
				t.Errorf("omitted %v (too long for env: %v), want %v (%v)", omitted, tooLong, tc.wantOmitted, tc.wantTooLong)
			}
			for k, v := range got.data {
				if len(k)+len(v)+2 > 128*1024 {
					t.Errorf("%s (%d bytes) would keep a container from starting", k, len(v))
				}
			}
			size := 0
			for k, v := range got.data {
				size += len(k) + len(v)
			}
			if size > tc.budget || size != got.size {
				t.Errorf("data weighs %d (reported %d), budget %d", size, got.size, tc.budget)
			}
			for _, k := range coreKeys {
				if _, ok := got.data[k]; !ok {
					t.Errorf("core key %s dropped", k)
				}
			}
			if got.data["EVENT_ID"] != "21447" || got.hash != dataHash(got.data, nil) {
				t.Errorf("EVENT_ID %q, hash of what was kept: %v", got.data["EVENT_ID"], got.hash == dataHash(got.data, nil))
			}
			// The same input drops the same keys every time.
			again, _ := desiredContent(&tc.spec, now, tc.budget)
			if again.hash != got.hash {
				t.Errorf("not deterministic")
			}
		})
	}

	t.Run("a core field too long for an environment variable is an invalid spec", func(t *testing.T) {
		spec := specWith(t, func(m map[string]any) { m["poster"].(map[string]any)["small"] = strings.Repeat("u", maxEnvVarBytes) })
		if _, err := desiredContent(&spec, now, DefaultMaxConfigMapDataBytes); err == nil || !strings.Contains(err.Error(), "EVENT_POSTER_SMALL is 131072 bytes, more than an environment variable can hold") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("core fields over the budget are an invalid spec", func(t *testing.T) {
		spec := specWith(t, func(m map[string]any) { m["place"].(map[string]any)["name"] = strings.Repeat("n", 5000) })
		if _, err := desiredContent(&spec, now, 4000); err == nil || !strings.Contains(err.Error(), "core fields") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestEffectiveBudget(t *testing.T) {
	for configured, want := range map[int]int{0: DefaultMaxConfigMapDataBytes, -1: DefaultMaxConfigMapDataBytes, 4096: 4096, 4 << 20: corev1.MaxSecretSize} {
		if got := effectiveBudget(configured); got != want {
			t.Errorf("effectiveBudget(%d) = %d, want %d", configured, got, want)
		}
	}
}

func TestAttributeKeys(t *testing.T) {
	h := hashSuffix // the 8 hex digits
	cases := []struct {
		name string
		keys []string
		want map[string]string
	}{
		{"camelCase", []string{"saleEnabled", "cpfTicketsLimit", "videoUrl", "xLarge"}, map[string]string{
			"saleEnabled": "EVENT_ATTR_SALE_ENABLED", "cpfTicketsLimit": "EVENT_ATTR_CPF_TICKETS_LIMIT",
			"videoUrl": "EVENT_ATTR_VIDEO_URL", "xLarge": "EVENT_ATTR_X_LARGE",
		}},
		{"acronyms, digits and separators", []string{"videoURL", "HTMLParser", "3dView", "ticket2fa", "sale-enabled.v2", "a__b"}, map[string]string{
			"videoURL": "EVENT_ATTR_VIDEO_URL", "HTMLParser": "EVENT_ATTR_HTML_PARSER", "3dView": "EVENT_ATTR_3D_VIEW",
			"ticket2fa": "EVENT_ATTR_TICKET2FA", "sale-enabled.v2": "EVENT_ATTR_SALE_ENABLED_V2", "a__b": "EVENT_ATTR_A_B",
		}},
		{"collision: the camelCase key keeps the plain name", []string{"sale_enabled", "saleEnabled", "SaleEnabled"}, map[string]string{
			"saleEnabled":  "EVENT_ATTR_SALE_ENABLED",
			"sale_enabled": "EVENT_ATTR_SALE_ENABLED__" + h("sale_enabled"),
			"SaleEnabled":  "EVENT_ATTR_SALE_ENABLED__" + h("SaleEnabled"),
		}},
		{"collision without a camelCase key: byte order", []string{"sale_enabled", "SaleEnabled"}, map[string]string{
			"SaleEnabled":  "EVENT_ATTR_SALE_ENABLED",
			"sale_enabled": "EVENT_ATTR_SALE_ENABLED__" + h("sale_enabled"),
		}},
		{"no letter or digit", []string{"", "çã", "--"}, map[string]string{
			"": "EVENT_ATTR__" + h(""), "çã": "EVENT_ATTR__" + h("çã"), "--": "EVENT_ATTR__" + h("--"),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := attributeKeys(tc.keys)
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
			// Order of the input does not matter.
			reversed := slices.Clone(tc.keys)
			slices.Reverse(reversed)
			if !maps.Equal(attributeKeys(reversed), got) {
				t.Errorf("depends on input order")
			}
		})
	}

	t.Run("a long key stays a valid ConfigMap key", func(t *testing.T) {
		long := strings.Repeat("veryLong", 60)
		got := attributeKeys([]string{long})[long]
		if len(got) > validation.DNS1123SubdomainMaxLength || !strings.Contains(got, "__") || !cIdentifier.MatchString(got) {
			t.Errorf("%q (%d)", got, len(got))
		}
	})

	t.Run("every generated name is unique and valid", func(t *testing.T) {
		keys := []string{"saleEnabled", "sale_enabled", "SALE_ENABLED", "SaleEnabled", "sale-enabled", "", " ", "ção", "a", "A", "aB", "a_b", strings.Repeat("z", 400)}
		got := attributeKeys(keys)
		seen := map[string]string{}
		for k, name := range got {
			if other, dup := seen[name]; dup {
				t.Errorf("%q and %q both map to %s", k, other, name)
			}
			seen[name] = k
			if errs := validation.IsConfigMapKey(name); len(errs) > 0 || !cIdentifier.MatchString(name) {
				t.Errorf("%q -> %q invalid: %v", k, name, errs)
			}
		}
		if len(got) != len(keys) {
			t.Errorf("%d names for %d keys", len(got), len(keys))
		}
	})
}

func TestAttributeValue(t *testing.T) {
	cases := []struct {
		raw  *string
		want string
	}{
		{nil, ""},
		{ptrTo(""), ""},
		{ptrTo("null"), ""},
		{ptrTo("true"), "true"},
		{ptrTo("false"), "false"},
		{ptrTo("3"), "3"},
		{ptrTo("100000.0"), "100000.0"},
		{ptrTo("1e-7"), "1e-7"},
		{ptrTo(`"plain text"`), "plain text"},
		{ptrTo(`"quote \" and <tag> & ção"`), `quote " and <tag> & ção`},
		{ptrTo(`{ "b": [1, 2.50], "a": {"z": null, "y": "<"} }`), `{"a":{"y":"<","z":null},"b":[1,2.50]}`},
		{ptrTo(`[ ]`), `[]`},
	}
	for _, tc := range cases {
		var v *apiextensionsv1.JSON
		name := "nil"
		if tc.raw != nil {
			v, name = &apiextensionsv1.JSON{Raw: []byte(*tc.raw)}, *tc.raw
		}
		got, err := attributeValue(v)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, tc.want)
		}
	}
}

func TestDataHash(t *testing.T) {
	a := map[string]string{"EVENT_ID": "1", "EVENT_TITLE": "x", "event.json": "{}"}
	b := map[string]string{}
	for _, k := range []string{"event.json", "EVENT_TITLE", "EVENT_ID"} {
		b[k] = a[k]
	}
	if dataHash(a, nil) != dataHash(b, nil) {
		t.Error("hash depends on insertion order")
	}
	if dataHash(a, nil) != dataHash(a, map[string][]byte{}) {
		t.Error("empty binaryData changes the hash")
	}
	if got := dataHash(map[string]string{}, nil); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("hash of nothing = %s, want SHA-256 of no bytes", got)
	}
	distinct := []struct {
		data   map[string]string
		binary map[string][]byte
	}{
		{map[string]string{"a": "bc"}, nil},
		{map[string]string{"ab": "c"}, nil},
		{map[string]string{"a": "b", "c": ""}, nil},
		{map[string]string{"a": "b"}, nil},
		{map[string]string{"a": ""}, nil},
		{nil, map[string][]byte{"a": []byte("")}},
		{map[string]string{"a": "bc"}, map[string][]byte{"x": nil}},
	}
	seen := map[string]int{}
	for i, d := range distinct {
		h := dataHash(d.data, d.binary)
		if j, dup := seen[h]; dup {
			t.Errorf("cases %d and %d hash the same", i, j)
		}
		seen[h] = i
		if len(h) != 64 {
			t.Errorf("hash %q is not hex SHA-256", h)
		}
	}
}

func assertValidKeys(t *testing.T, data map[string]string) {
	t.Helper()
	for k := range data {
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			t.Errorf("key %q is not a valid ConfigMap key: %v", k, errs)
		}
		if !strings.HasSuffix(k, ".json") && !cIdentifier.MatchString(k) {
			t.Errorf("key %q is not an environment variable name", k)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestEditedByHand(t *testing.T) {
	ours := map[string]string{"EVENT_TITLE": "a"}
	oursHash := dataHash(ours, nil)
	want := configMapContent{hash: dataHash(map[string]string{"EVENT_TITLE": "b"}, nil)}
	cm := func(data map[string]string, annotated string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{eventsv1alpha1.AnnotationContentHash: annotated}}, Data: data}
	}
	cases := []struct {
		name string
		cm   *corev1.ConfigMap
		want bool
	}{
		{"as we left it, spec moved on", cm(ours, oursHash), false},
		{"data edited", cm(map[string]string{"EVENT_TITLE": "defaced"}, oursHash), true},
		{"annotation forged", cm(ours, "forged"), true},
		{"content right, metadata edited", cm(map[string]string{"EVENT_TITLE": "b"}, want.hash), true},
	}
	for _, tc := range cases {
		if got := editedByHand(tc.cm, want); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// DerivedConfigMap, which the benchmark's baseline writes, is the ConfigMap
// the controller creates: the same data, labels, annotations and owner, on
// the real API server.
func TestDerivedConfigMapIsWhatTheControllerCreates(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	startManager(t, ns, &IngresseEventReconciler{})
	ev := newEvent(ns, seedSpec(t))
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	stored := waitForCondition(t, client.ObjectKeyFromObject(ev), eventsv1alpha1.ConditionReady, metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled)
	want, err := DerivedConfigMap(stored, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ev), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Data, want.Data) || !reflect.DeepEqual(got.Labels, want.Labels) ||
		!reflect.DeepEqual(got.Annotations, want.Annotations) || !reflect.DeepEqual(got.OwnerReferences, want.OwnerReferences) {
		t.Errorf("DerivedConfigMap differs from the controller's ConfigMap:\n got labels %v annotations %v owners %v, %d keys\nwant labels %v annotations %v owners %v, %d keys",
			got.Labels, got.Annotations, got.OwnerReferences, len(got.Data), want.Labels, want.Annotations, want.OwnerReferences, len(want.Data))
	}
}
