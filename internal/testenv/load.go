package testenv

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// Delivery is one delivery of a load test: version V of event ID (V 0 is
// a webhook that is acknowledged and never stored, such as a sale).
type Delivery struct {
	ID   int64
	V    int
	Body []byte
}

// VersionLoad is every version 1..versions of events events from firstID,
// each delivered one to three times (as a sender that retries and
// duplicates does), in order; the caller shuffles it with the same rng,
// after adding what else it sends. body builds version v of event id.
func VersionLoad(rng *rand.Rand, firstID int64, events, versions int, body func(id int64, v int) []byte) []Delivery {
	var out []Delivery
	for e := range events {
		id := firstID + int64(e)
		for v := 1; v <= versions; v++ {
			b := body(id, v)
			for range 1 + rng.IntN(3) {
				out = append(out, Delivery{ID: id, V: v, Body: b})
			}
		}
	}
	return out
}

// versionBase is the updatedAt of version 0 in EventVersion.
var versionBase = time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)

// EventVersion is version v of event id: Ingresse's event-update example
// titled "version v", with updatedAt a minute later for each version (and
// the envelope's timestamp a second after it), so that a later version
// always wins.
func EventVersion(id int64, v int) []byte {
	return EventWith(id, "version "+strconv.Itoa(v), versionBase.Add(time.Duration(v)*time.Minute))
}

// EventWith is Ingresse's event-update example as event id, with a title
// and an updatedAt, and the envelope's timestamp a second after it.
func EventWith(id int64, title string, updatedAt time.Time) []byte {
	var envelope map[string]any
	if err := json.Unmarshal(examples.EventUpdate, &envelope); err != nil {
		panic(err) // the embedded example is valid JSON
	}
	data := envelope["data"].(map[string]any)
	data["id"] = id
	data["title"] = title
	data["updatedAt"] = updatedAt.Format("2006-01-02T15:04:05.000000-07:00")
	envelope["timestamp"] = updatedAt.Add(time.Second).Format("2006-01-02T15:04:05.000000")
	b, err := json.Marshal(envelope)
	if err != nil {
		panic(err)
	}
	return b
}

// EachMember calls set with the parent object and the name of each member
// of the decoded JSON object m at paths ("status.id"; a number indexes an
// array), for tests that null or remove members of a payload.
func EachMember(m map[string]any, set func(parent map[string]any, name string), paths ...string) {
	for _, path := range paths {
		steps := strings.Split(path, ".")
		var at any = m
		for _, step := range steps[:len(steps)-1] {
			if i, err := strconv.Atoi(step); err == nil {
				at = at.([]any)[i]
			} else {
				at = at.(map[string]any)[step]
			}
		}
		set(at.(map[string]any), steps[len(steps)-1])
	}
}
