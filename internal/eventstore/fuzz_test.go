package eventstore

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// FuzzDecodeEventData feeds arbitrary data members to the document's
// validation. Whatever it accepts is storable: a positive id, a valid
// name, valid labels, parseable times and a spec that round-trips to the
// same digest. Whatever it refuses is an *InvalidError with a message.
func FuzzDecodeEventData(f *testing.F) {
	for _, ex := range examples.All() {
		var envelope struct {
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(ex.Body, &envelope) == nil && envelope.Data != nil {
			f.Add([]byte(envelope.Data))
		}
	}
	for _, s := range []string{
		`{"id":1,"updatedAt":"2018-03-06T20:49:04+00:00"}`,
		`{"id":9223372036854775807,"updatedAt":"2018-03-06 20:49:04","companyId":0}`,
		`{"id":"1"}`, `{"id":1,"sessions":[{"id":1.5}]}`,
		`{"id":1,"updatedAt":"2018-03-06T20:49:04Z","attributes":{"k":{"value":1e400}}}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, updatedAt, err := DecodeEventData(data)
		if err != nil {
			var invalid *InvalidError
			if !errors.As(err, &invalid) || invalid.Error() == "" || !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("a refusal must be an InvalidError with a message: %v", err)
			}
			return
		}
		d := &Delivery{Webhook: "event-update", Timestamp: time.Unix(0, 0).UTC(), UpdatedAt: updatedAt, Spec: spec}
		if d.Spec.ID <= 0 || d.Name() != eventsv1alpha1.ResourceName(d.Spec.ID) {
			t.Fatalf("accepted id %d as %q", d.Spec.ID, d.Name())
		}
		if errs := validation.IsDNS1123Subdomain(d.Name()); len(errs) > 0 {
			t.Fatalf("name %q: %v", d.Name(), errs)
		}
		// The spec survives encoding and decoding with the same digest:
		// the digest of what is stored equals that of what was sent.
		v, err := deliveryVersion(d)
		if err != nil {
			t.Fatalf("accepted a spec that cannot be encoded: %v", err)
		}
		obj := &eventsv1alpha1.IngresseEvent{}
		obj.Generation = 1 + int64(len(data))
		applyDelivery(obj, d, time.Now(), obj.Generation, v)
		// The version annotation says what the spec and the other
		// annotations say: ordering from metadata alone is ordering from
		// the object.
		notAfter := updatedAt.Add(time.Duration(len(data)%16-8) * time.Hour) // ahead of the clock or not
		fromMeta, ok := metadataVersion(&obj.ObjectMeta, notAfter)
		if !ok {
			t.Fatalf("the version annotation %q is not read back", obj.Annotations[eventsv1alpha1.AnnotationVersion])
		}
		if fromSpec := storedVersion(obj, notAfter); fromMeta != fromSpec {
			t.Fatalf("version from metadata %+v, from the object %+v", fromMeta, fromSpec)
		}
		for k, v := range obj.Labels {
			if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
				t.Fatalf("label %s=%s: %v", k, v, errs)
			}
		}
		for _, k := range []string{eventsv1alpha1.AnnotationWebhookTimestamp, eventsv1alpha1.AnnotationReceivedAt} {
			if _, err := time.Parse(time.RFC3339Nano, obj.Annotations[k]); err != nil {
				t.Fatalf("annotation %s: %v", k, err)
			}
		}
		if _, err := eventsv1alpha1.ParseTime(strOf(d.Spec.UpdatedAt)); err != nil {
			t.Fatalf("accepted updatedAt %q", strOf(d.Spec.UpdatedAt))
		}
		b, err := json.Marshal(d.Spec)
		if err != nil {
			t.Fatal(err)
		}
		var again eventsv1alpha1.IngresseEventSpec
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("the encoded spec does not decode: %v", err)
		}
		if d2, _ := SpecDigest(&again); d2 != v.digest {
			t.Fatal("the spec's digest changed through encoding")
		}
	})
}

// FuzzOrdering checks the rules by which every replica orders the
// deliveries of one event, on three deliveries built from arbitrary times
// and titles (each through decodeEnvelope, so only what the receiver
// accepts is ordered):
//   - a version never loses to itself, compared with the delivery or with
//     the object storing it left behind;
//   - the version read back from a stored object is the version delivered,
//     so that comparing with what is stored orders like comparing with the
//     delivery;
//   - the same spec is unchanged whatever its timestamps, and is never
//     written again; of two different specs exactly one wins, whichever is
//     stored first, and the same inputs always give the same verdict;
//   - whatever order the three arrive in, the stored updatedAt ends at the
//     newest delivered;
//   - unless two different specs are ordered one way by some of their
//     deliveries and the other way by others (same updatedAt, envelope
//     timestamps interleaved: see ordering.go), every order also ends with
//     the same spec, answers every delivery sent again the same way
//     (unchanged for the stored spec, stale for the rest: nothing more is
//     written), and keeps the annotations of the first delivery of that
//     spec to arrive. Which delivery that is depends on the order: the
//     annotations do not converge, by design.
func FuzzOrdering(f *testing.F) {
	create, update := seedDelivery(f, examples.EventCreate), seedDelivery(f, examples.EventUpdate)
	f.Add(create[0], create[1], create[2], update[0], update[1], update[2], update[0], "2019-03-12T19:32:46Z", "edited")
	f.Add("2018-03-06T20:49:04+00:00", "2018-04-02 13:57:04", "a", "2018-03-06T20:49:04Z", "2018-04-02T13:57:04.000001Z", "b",
		"2018-03-06 20:49:04.5", "2018-04-02T13:57:04-03:00", "c")
	f.Fuzz(func(t *testing.T, updatedA, timestampA, titleA, updatedB, timestampB, titleB, updatedC, timestampC, titleC string) {
		var ds []*Delivery
		for _, in := range [][3]string{{updatedA, timestampA, titleA}, {updatedB, timestampB, titleB}, {updatedC, timestampC, titleC}} {
			d := fuzzDelivery(in[0], in[1], in[2])
			if d == nil {
				return
			}
			ds = append(ds, d)
		}
		vs := make([]version, len(ds))
		var newest time.Time
		for i, d := range ds {
			v, err := deliveryVersion(d)
			if err != nil {
				t.Fatalf("an accepted delivery has no version: %v", err)
			}
			vs[i] = v
			if i == 0 || v.updatedAt.After(newest) {
				newest = v.updatedAt
			}
			stored := storedVersion(storeOnce(t, nil, d), noClockLimit)
			if !stored.updatedAt.Equal(v.updatedAt) || !stored.timestamp.Equal(v.timestamp) || stored.digest != v.digest {
				t.Fatalf("delivered version (updatedAt %s, timestamp %s) reads back from the object as (%s, %s)",
					v.updatedAt, v.timestamp, stored.updatedAt, stored.timestamp)
			}
			if got := compareVersions(v, v); got != verdictUnchanged {
				t.Fatalf("a version compared with itself is %v", got)
			}
		}
		// consistent: no two different specs are ordered one way by some
		// of their deliveries and the other way by others.
		consistent := true
		for i := range vs {
			for j := range vs {
				ij, ji := compareVersions(vs[i], vs[j]), compareVersions(vs[j], vs[i])
				if again := compareVersions(vs[i], vs[j]); again != ij {
					t.Fatalf("the same comparison gave %d then %d", ij, again)
				}
				sameSpec := vs[i].digest == vs[j].digest
				switch {
				case sameSpec && (ij != verdictUnchanged || ji != verdictUnchanged):
					t.Fatalf("deliveries %d and %d of one spec compare as %d and %d, want unchanged whatever their timestamps", i, j, ij, ji)
				case !sameSpec && (ij == verdictNewer) == (ji == verdictNewer):
					t.Fatalf("%d vs %d is %d and %d vs %d is %d: exactly one must win", i, j, ij, j, i, ji)
				}
				for k := range vs {
					for l := range vs {
						if !sameSpec && vs[k].digest == vs[i].digest && vs[l].digest == vs[j].digest && compareVersions(vs[k], vs[l]) != ij {
							consistent = false
						}
					}
				}
			}
		}
		var first, firstAnswers string
		for _, order := range [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
			var obj *eventsv1alpha1.IngresseEvent
			for _, i := range order {
				before := obj
				obj = storeOnce(t, obj, ds[i])
				if before != nil && obj != before && storedVersion(before, noClockLimit).digest == vs[i].digest {
					t.Fatalf("order %v: delivery %d wrote the spec already stored", order, i)
				}
			}
			if got, err := eventsv1alpha1.ParseTime(strOf(obj.Spec.UpdatedAt)); err != nil || !got.Equal(newest) {
				t.Fatalf("arrival order %v ends at updatedAt %q, want the newest delivered, %s", order, strOf(obj.Spec.UpdatedAt), newest)
			}
			if !consistent {
				continue
			}
			stored := storedVersion(obj, noClockLimit)
			var answers strings.Builder
			firstOfSpec := -1
			for _, i := range order {
				if firstOfSpec < 0 && vs[i].digest == stored.digest {
					firstOfSpec = i
				}
			}
			for i := range ds {
				answers.WriteString(compareVersions(vs[i], stored).String() + " ")
			}
			if strings.Contains(answers.String(), "newer") {
				t.Fatalf("arrival order %v ends where a delivery sent again would be written: %s", order, answers.String())
			}
			if !stored.timestamp.Equal(vs[firstOfSpec].timestamp) || obj.Annotations[eventsv1alpha1.AnnotationWebhook] != ds[firstOfSpec].Webhook {
				t.Fatalf("arrival order %v: annotations %v, want those of delivery %d, the first of the stored spec", order, obj.Annotations, firstOfSpec)
			}
			end := strOf(obj.Spec.Title) + " updatedAt " + strOf(obj.Spec.UpdatedAt)
			if first == "" {
				first, firstAnswers = end, answers.String()
			} else if end != first || answers.String() != firstAnswers {
				t.Fatalf("arrival order %v ends at %q answering %s, order [0 1 2] at %q answering %s", order, end, answers.String(), first, firstAnswers)
			}
		}
	})
}

// noClockLimit is a notAfter no accepted updatedAt passes: the ordering
// fuzzed here is the one among versions within the clock skew.
var noClockLimit = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

// seedDelivery is an example's updatedAt, timestamp and title.
func seedDelivery(f *testing.F, body []byte) [3]string {
	var envelope struct {
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		f.Fatal(err)
	}
	spec, _, err := DecodeEventData(envelope.Data)
	if err != nil {
		f.Fatalf("decoding an example: %v", err)
	}
	return [3]string{strOf(spec.UpdatedAt), envelope.Timestamp, strOf(spec.Title)}
}

// fuzzDelivery is the event-update delivery of event 1 with the given
// updatedAt, envelope timestamp and title, or nil when it cannot be
// stored (as the receiver would refuse it).
func fuzzDelivery(updatedAt, timestamp, title string) *Delivery {
	data, err := json.Marshal(map[string]any{"id": 1, "updatedAt": updatedAt, "title": title})
	if err != nil {
		return nil
	}
	spec, at, err := DecodeEventData(data)
	if err != nil {
		return nil
	}
	ts, err := eventsv1alpha1.ParseTime(timestamp)
	if err != nil || CheckYear("timestamp", ts) != nil {
		return nil
	}
	return &Delivery{Webhook: "event-update", Timestamp: ts, UpdatedAt: at, Spec: spec}
}

// storeOnce plays the receiver's decision for one delivery against obj
// (nil when nothing is stored yet) and returns what is stored afterwards:
// obj itself when nothing is written, otherwise the written object as the
// API server would give it back (through JSON).
func storeOnce(t *testing.T, obj *eventsv1alpha1.IngresseEvent, d *Delivery) *eventsv1alpha1.IngresseEvent {
	t.Helper()
	v, err := deliveryVersion(d)
	if err != nil {
		t.Fatal(err)
	}
	if obj == nil {
		obj = &eventsv1alpha1.IngresseEvent{}
		obj.Generation = 1
		applyDelivery(obj, d, time.Unix(0, 0), 1, v)
	} else {
		// As Store decides: from the version annotation, which must
		// say what the object says.
		stored, ok := metadataVersion(&obj.ObjectMeta, noClockLimit)
		if !ok || stored != storedVersion(obj, noClockLimit) {
			t.Fatalf("the version annotation %q (read: %v) does not describe the stored object", obj.Annotations[eventsv1alpha1.AnnotationVersion], ok)
		}
		verdict := compareVersions(v, stored)
		if verdict == verdictUnchanged || verdict == verdictStale {
			return obj
		}
		obj = obj.DeepCopy()
		obj.Generation++ // the API server's, for a new spec
		applyDelivery(obj, d, time.Unix(0, 0), obj.Generation, v)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatalf("encoding the stored object: %v", err)
	}
	back := &eventsv1alpha1.IngresseEvent{}
	if err := json.Unmarshal(b, back); err != nil {
		t.Fatalf("decoding the stored object: %v", err)
	}
	return back
}
