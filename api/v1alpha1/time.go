package v1alpha1

import (
	"fmt"
	"time"
)

// timeLayouts are the shapes of time Ingresse uses: RFC 3339 with an offset
// (createdAt, updatedAt, dateTime: 2018-03-06T20:49:04.468967+00:00, and the
// envelope's 2019-03-12T19:32:46Z), and the envelope's zone-less
// 2018-04-02T13:57:04.770619, which Ingresse means as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// ParseTime parses a time in any shape Ingresse sends. A time without a
// zone is UTC.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%.64q is not a time Ingresse sends (want RFC 3339, e.g. 2018-03-06T20:49:04.468967+00:00)", s) // at most 64 runes of it
}
