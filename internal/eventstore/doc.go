// Package eventstore stores versions of Ingresse events as IngresseEvents:
// the rules that decide which version wins (ordering.go), the validation of
// an event document (decode.go), and the read-compare-write sequence with
// its compare-and-swap (store.go). The webhook receiver stores each
// delivery with it; the resync sweep and verified deliveries each event
// read from Ingresse's API, so that a webhook and a sweep racing on one
// event end on the newest version, whichever comes first.
//
// It speaks in domain errors (ErrInvalidEvent and *InvalidError,
// ErrAheadOfClock, ErrBeingDeleted, the API server's own) and imports no
// net/http: webhookreceiver alone maps them to answers.
package eventstore
