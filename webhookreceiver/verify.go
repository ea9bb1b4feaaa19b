package webhookreceiver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
)

// EventSource reads one event from Ingresse's API, in the webhook's data
// shape. ingresseapi.Client is one; tests use a fake.
type EventSource interface {
	Event(ctx context.Context, id int64) (json.RawMessage, error)
	// CanReadEvents says, without calling the API, why no event can be
	// read now for want of credentials (an expired JWT nothing renews):
	// every delivery would then get 503, so the receiver is not ready.
	CanReadEvents() error
}

// Results of a verification, the label of
// ingresse_receiver_verifications_total.
const (
	verifyConfirmed   = "confirmed"    // the API holds the delivered updatedAt
	verifyNewerInAPI  = "newer_in_api" // the API holds a newer version: stored instead
	verifyOlderInAPI  = "older_in_api" // the API does not hold the delivered version yet
	verifyNotFound    = "not_found"    // the API has no such event
	verifyUnavailable = "unavailable"  // the API could not be asked
	verifyInvalid     = "invalid"      // the API answered something that is not that event
)

// verify reads the delivered event back from Ingresse's API and returns the
// API's copy to store in its place, marked as confirmed by the source: the
// content stored is never the delivery's, so a delivery forged with a valid
// token can at most make the receiver read the API. The delivered
// updatedAt must be at most the API's; otherwise, or when the API cannot
// be asked, the answer is 503 with Retry-After (the API may lag, and the
// sender delivers again) and nothing is stored.
func (s *Server) verify(ctx context.Context, d *eventstore.Delivery, readAt time.Time) (*eventstore.Delivery, error) {
	doc, err := s.verifier.Event(ctx, d.Spec.ID)
	switch {
	case ingresseapi.IsNotFound(err):
		s.metrics.verifications.WithLabelValues(verifyNotFound).Inc()
		return nil, errNotConfirmed(fmt.Sprintf("Ingresse's API has no event %d", d.Spec.ID), nil)
	case ingresseapi.IsUnrecognised(err):
		s.metrics.verifications.WithLabelValues(verifyInvalid).Inc()
		return nil, errBadGateway(err)
	case err != nil:
		s.metrics.verifications.WithLabelValues(verifyUnavailable).Inc()
		return nil, errNotConfirmed("Ingresse's API could not be asked to confirm the event", err)
	}
	api, err := eventstore.APIDelivery(doc, readAt) // the client checked that it is that event
	if err != nil {
		s.metrics.verifications.WithLabelValues(verifyInvalid).Inc()
		return nil, errBadGateway(err)
	}
	switch c := api.UpdatedAt.Compare(d.UpdatedAt); {
	case c < 0:
		s.metrics.verifications.WithLabelValues(verifyOlderInAPI).Inc()
		return nil, errNotConfirmed(fmt.Sprintf("Ingresse's API holds event %d at updatedAt %s, older than the delivery's %s",
			d.Spec.ID, api.UpdatedAt.UTC().Format(time.RFC3339Nano), d.UpdatedAt.UTC().Format(time.RFC3339Nano)), nil)
	case c > 0:
		s.metrics.verifications.WithLabelValues(verifyNewerInAPI).Inc()
	default:
		s.metrics.verifications.WithLabelValues(verifyConfirmed).Inc()
	}
	api.Webhook = d.Webhook
	return api, nil
}

// errNotConfirmed answers a delivery that Ingresse's API did not confirm,
// in verified mode: 503 with Retry-After, nothing stored. cause is for the
// log line only.
func errNotConfirmed(msg string, cause error) *httpError {
	return &httpError{
		code: http.StatusServiceUnavailable, outcome: outcomeNotConfirmed,
		msg: msg + ": not stored until the API confirms it, retry later", retryAfter: retryAfterUnavailable, err: cause,
	}
}

// errBadGateway answers a delivery whose read-back from Ingresse's API gave
// something that is not the event: 502, nothing stored.
func errBadGateway(cause error) *httpError {
	return &httpError{
		code: http.StatusBadGateway, outcome: outcomeNotConfirmed,
		msg: "Ingresse's API answered with something that is not the event, nothing stored", err: cause,
	}
}
