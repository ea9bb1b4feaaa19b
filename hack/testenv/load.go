package testenv

import "math/rand/v2"

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
