// Package examples holds the two webhook deliveries published on Ingresse's
// page about event webhooks, byte for byte. They are the first fixtures of
// every test suite, the payloads `make dev` tells you to curl, and what the
// sender posts when it is given no file.
package examples

import (
	_ "embed"
)

var (
	// EventCreate is Ingresse's event-create example.
	//
	//go:embed event-create.json
	EventCreate []byte

	// EventUpdate is Ingresse's event-update example: the same event, sent
	// again 3.5 seconds later.
	//
	//go:embed event-update.json
	EventUpdate []byte
)

// Example is one named webhook delivery.
type Example struct {
	Name string
	Body []byte
}

// All returns both examples in the order Ingresse sent them.
func All() []Example {
	return []Example{
		{Name: "event-create", Body: EventCreate},
		{Name: "event-update", Body: EventUpdate},
	}
}
