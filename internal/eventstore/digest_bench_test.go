package eventstore

import (
	"encoding/json"
	"testing"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

func exampleSpec(tb testing.TB) *eventsv1alpha1.IngresseEventSpec {
	tb.Helper()
	var envelope struct {
		Data eventsv1alpha1.IngresseEventSpec `json:"data"`
	}
	if err := json.Unmarshal(examples.EventCreate, &envelope); err != nil {
		tb.Fatal(err)
	}
	return &envelope.Data
}

// BenchmarkSpecDigest is the digest every cached watch event of an
// IngresseEvent, and every delivery compared with a stored version, pays
// (Ingresse's event-create example).
func BenchmarkSpecDigest(b *testing.B) {
	spec := exampleSpec(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SpecDigest(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpecMarshal is the encoding of the same spec, which every write
// of the event pays.
func BenchmarkSpecMarshal(b *testing.B) {
	spec := exampleSpec(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(spec); err != nil {
			b.Fatal(err)
		}
	}
}
