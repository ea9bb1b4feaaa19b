package eventstore

import (
	"testing"
	"time"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// clockNow is the writer's clock in these tests.
var clockNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// TestStoredVersionAheadOfTheClock: a stored updatedAt after notAfter
// counts as unknown, and any valid version, however old, then wins; at or
// before it, the ordering is the usual one.
func TestStoredVersionAheadOfTheClock(t *testing.T) {
	notAfter := clockNow.Add(DefaultMaxClockSkew)
	for _, tc := range []struct {
		name   string
		stored time.Time
		ahead  bool
	}{
		{"an hour old", clockNow.Add(-time.Hour), false},
		{"now", clockNow, false},
		{"a minute ahead", clockNow.Add(time.Minute), false},
		{"exactly at the limit", notAfter, false},
		{"a nanosecond past the limit", notAfter.Add(time.Nanosecond), true},
		{"a day ahead", clockNow.Add(24 * time.Hour), true},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := &eventsv1alpha1.IngresseEvent{}
			obj.Spec.ID = 1
			obj.Spec.UpdatedAt = new(tc.stored.Format(time.RFC3339Nano))
			v := storedVersion(obj, notAfter)
			if v.aheadOfClock != tc.ahead {
				t.Fatalf("aheadOfClock = %v, want %v", v.aheadOfClock, tc.ahead)
			}
			// A valid version older than every stored one here that is
			// not ahead of the clock.
			oldest := version{updatedAt: clockNow.Add(-2 * time.Hour), digest: [32]byte{9}}
			want := verdictStale
			if tc.ahead {
				want = verdictNewer
			}
			if got := compareVersions(oldest, v); got != want {
				t.Fatalf("an hour-old version against this stored one: %v, want %v", got, want)
			}
		})
	}
}
