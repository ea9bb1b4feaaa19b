package eventstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/jsoncanon"
)

// Deliveries of one event arrive duplicated, retried and out of order, at
// several receiver replicas at once. Every replica orders them the same
// way, so that they end on the same version (but see below):
//
//  1. a spec semantically equal to the stored one is unchanged, whatever
//     its timestamps: nothing is written, not even the annotations, since
//     a retry may carry a fresh envelope timestamp and each write wakes
//     every watcher;
//  2. otherwise the newer data.updatedAt wins;
//  3. on a tie, a copy read from Ingresse's API (by a resync sweep or for a
//     verified delivery) wins over a webhook's: the source is the truth,
//     and a webhook retried after the sweep cannot undo it;
//  4. on a tie, the newer timestamp wins (the envelope's, or when the
//     API's copy was read);
//  5. on a tie, the larger SHA-256 of the canonical spec wins, an arbitrary
//     but deterministic rule.
//
// A copy from the API whose spec equals the stored webhook's is rule 1's
// one exception: it is written once, annotations only, to record that the
// source confirmed it (verdictConfirm).
//
// The stored timestamp is therefore that of the delivery which stored the
// spec, not of the newest delivery seen. The stored updatedAt always ends
// at the newest delivered, and so does the spec unless two different specs
// share it and their deliveries' timestamps interleave (A at t1, B at t2, A
// again at t3): then rule 3 depends on which delivery of A it meets, and
// the order of arrival decides. That takes Ingresse changing the data
// without moving updatedAt; writing every newer timestamp to keep even
// that case convergent cost a write per retry, for every watcher.
//
// A stored object whose updatedAt or timestamp annotation is missing or
// unparsable counts as oldest on that key, and so does one whose updatedAt
// is beyond the clock skew when it is compared (stored before the skew was
// checked, or by a writer whose clock ran ahead): any valid version replaces
// it ("repaired"), so no date, however far ahead, freezes an event. An
// incoming version beyond the skew is refused before it is compared
// (Writer.CheckClock).

// version is what orders the deliveries of one event.
type version struct {
	updatedAt time.Time // zero when unknown: oldest
	timestamp time.Time // zero when unknown: oldest
	digest    [sha256.Size]byte
	// fromSource marks a copy read from Ingresse's API.
	fromSource bool
	// aheadOfClock marks a stored version whose updatedAt was beyond the
	// clock skew (updatedAt is then zero).
	aheadOfClock bool
}

// verdict is how an incoming delivery relates to the stored object.
type verdict int

const (
	verdictUnchanged verdict = iota // same spec: nothing to write
	verdictStale                    // older: nothing to write
	verdictNewer                    // newer: write it
	verdictConfirm                  // same spec, now confirmed by the source: write the annotations
)

func (v verdict) String() string {
	switch v {
	case verdictUnchanged:
		return OutcomeUnchanged
	case verdictStale:
		return OutcomeStale
	case verdictConfirm:
		return OutcomeConfirmed
	default:
		return "newer"
	}
}

// compareVersions decides whether incoming replaces stored.
func compareVersions(incoming, stored version) verdict {
	if incoming.digest == stored.digest {
		// The envelope timestamp only breaks ties between different
		// specs: a retry of the stored one is never a write.
		return verdictUnchanged
	}
	if c := incoming.updatedAt.Compare(stored.updatedAt); c != 0 {
		return newerIf(c > 0)
	}
	if incoming.fromSource != stored.fromSource {
		return newerIf(incoming.fromSource)
	}
	if c := incoming.timestamp.Compare(stored.timestamp); c != 0 {
		return newerIf(c > 0)
	}
	return newerIf(bytes.Compare(incoming.digest[:], stored.digest[:]) > 0)
}

func newerIf(newer bool) verdict {
	if newer {
		return verdictNewer
	}
	return verdictStale
}

// deliveryVersion is an incoming delivery's version.
func deliveryVersion(d *Delivery) (version, error) {
	digest, err := SpecDigest(&d.Spec)
	if err != nil {
		return version{}, err
	}
	return version{updatedAt: d.UpdatedAt, fromSource: d.FromSource(), timestamp: d.Timestamp, digest: digest}, nil
}

// storedVersion is a stored object's version, read from its spec and
// annotations. Whatever cannot be read counts as oldest, and so does an
// updatedAt after notAfter; a spec that cannot be encoded equals nothing.
func storedVersion(obj *eventsv1alpha1.IngresseEvent, notAfter time.Time) version {
	var updatedAt string
	if obj.Spec.UpdatedAt != nil {
		updatedAt = *obj.Spec.UpdatedAt
	}
	digest, _ := SpecDigest(&obj.Spec)
	return annotatedVersion(&obj.ObjectMeta, updatedAt, digest, notAfter)
}

// annotatedVersion is the version of a stored spec whose updatedAt (as
// stored) and digest are known, with the ordering keys its annotations
// hold.
func annotatedVersion(meta *metav1.ObjectMeta, updatedAt string, digest [sha256.Size]byte, notAfter time.Time) version {
	v := version{digest: digest}
	if t, err := eventsv1alpha1.ParseTime(updatedAt); err == nil {
		if t.After(notAfter) {
			v.aheadOfClock = true
		} else {
			v.updatedAt = t
		}
	}
	v.fromSource = meta.Annotations[eventsv1alpha1.AnnotationSource] == eventsv1alpha1.SourceIngresseAPI
	if t, err := eventsv1alpha1.ParseTime(meta.Annotations[eventsv1alpha1.AnnotationWebhookTimestamp]); err == nil {
		v.timestamp = t
	}
	return v
}

// formatVersionAnnotation is the AnnotationVersion of a spec with the
// given updatedAt and digest once stored at generation.
func formatVersionAnnotation(generation int64, updatedAt time.Time, digest [sha256.Size]byte) string {
	var at string
	if !updatedAt.IsZero() {
		at = updatedAt.UTC().Format(time.RFC3339Nano)
	}
	return strconv.FormatInt(generation, 10) + "/" + at + "/" + hex.EncodeToString(digest[:])
}

// metadataVersion is the stored version as its AnnotationVersion says,
// when that annotation is there, well formed and written at the object's
// generation (so that the spec is the one it describes); ok is false
// otherwise, and the spec must be read.
func metadataVersion(meta *metav1.ObjectMeta, notAfter time.Time) (v version, ok bool) {
	gen, rest, ok := strings.Cut(meta.Annotations[eventsv1alpha1.AnnotationVersion], "/")
	if !ok || gen != strconv.FormatInt(meta.Generation, 10) || meta.Generation == 0 {
		return version{}, false
	}
	updatedAt, digestHex, ok := strings.Cut(rest, "/")
	if !ok || len(digestHex) != hex.EncodedLen(sha256.Size) {
		return version{}, false
	}
	var digest [sha256.Size]byte
	if _, err := hex.Decode(digest[:], []byte(digestHex)); err != nil {
		return version{}, false
	}
	if updatedAt != "" {
		if _, err := eventsv1alpha1.ParseTime(updatedAt); err != nil {
			return version{}, false
		}
	}
	return annotatedVersion(meta, updatedAt, digest, notAfter), true
}

// SpecDigest is the SHA-256 of the spec's canonical JSON (what orders full
// ties, and tells an unchanged spec), in which two
// semantically equal specs encode to the same bytes: object members sorted,
// no insignificant white space, and numbers written the way the API server
// stores them (an integer that fits int64 as an integer, any other number
// as the shortest float64), so that 100000.0 as sent equals 100000 as read
// back.
func SpecDigest(spec *eventsv1alpha1.IngresseEventSpec) ([sha256.Size]byte, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("encoding the spec: %w", err)
	}
	canonical, err := jsoncanon.Append(nil, b, jsoncanon.Options{EscapeHTML: true, NormaliseNumbers: true})
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("canonicalising the spec: %w", err)
	}
	return sha256.Sum256(canonical), nil
}
