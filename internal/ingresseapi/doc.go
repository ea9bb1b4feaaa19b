// Package ingresseapi is the operator's client for Ingresse's API: reading
// one event again, and listing a producer's or a company's events.
//
// It is the only place that knows Ingresse's endpoints, answer envelopes,
// credentials and errors. Ingresse documents little of it: every shape here
// is the one Ingresse's own SDKs use, tested against the local fake in
// internal/fakeingresse. A user who finds that the real API differs fixes it
// here (and in the fake), and nowhere else.
//
// Credentials come from a file, normally a mounted Secret, that is read
// again while the operator runs; no credential value is ever logged, put
// into an error or into a metric.
package ingresseapi
