package webhookreceiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/text"
)

// Outcomes label the requests_total metric and the request log line. The
// set is closed so that the metric's cardinality stays bounded.
const (
	outcomeCreated              = eventstore.OutcomeCreated
	outcomeUpdated              = eventstore.OutcomeUpdated
	outcomeUnchanged            = eventstore.OutcomeUnchanged
	outcomeStale                = eventstore.OutcomeStale
	outcomeConfirmed            = eventstore.OutcomeConfirmed
	outcomeRepaired             = eventstore.OutcomeRepaired
	outcomeIgnored              = "ignored"
	outcomeUnauthorized         = "unauthorized"
	outcomeForbidden            = "forbidden"
	outcomeBadRequest           = "bad_request"
	outcomeRequestTimeout       = "request_timeout"
	outcomeTooLarge             = "too_large"
	outcomeUnsupportedMediaType = "unsupported_media_type"
	outcomeTooManyRequests      = "too_many_requests"
	outcomeUnavailable          = "unavailable"
	outcomeInvalid              = "invalid"
	outcomeAheadOfClock         = "ahead_of_clock"
	outcomeMethodNotAllowed     = "method_not_allowed"
	outcomeNotFound             = "not_found"
	outcomeNotConfirmed         = "not_confirmed"
)

// Retry-After values, in seconds. Ingresse documents no retry policy; a
// short hint is all a sender that honours it needs.
const (
	retryAfterBusy        = 1
	retryAfterUnavailable = 5
)

// httpError is every failure the receiver answers. It carries the status
// code, the metric outcome and a message that is safe to send to anyone on
// the internet: it never holds a token, a request body, or anything about
// the cluster (addresses, namespaces, admission webhooks, the API server's
// own words). The cause, for the log only, may.
type httpError struct {
	code    int
	outcome string
	msg     string
	// retryAfter, when positive, is sent as the Retry-After header.
	retryAfter int
	// header holds extra response headers (Allow, WWW-Authenticate).
	header http.Header
	// err is the cause, for the log line only.
	err error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *httpError) Unwrap() error { return e.err }

func errNotFound() *httpError {
	return &httpError{code: http.StatusNotFound, outcome: outcomeNotFound, msg: "not found: webhooks are received at POST " + webhookPath}
}

func errMethodNotAllowed(method string) *httpError {
	return &httpError{
		code: http.StatusMethodNotAllowed, outcome: outcomeMethodNotAllowed,
		msg:    fmt.Sprintf("method %s is not allowed: use POST", text.Truncate(method, 16)),
		header: http.Header{"Allow": {http.MethodPost}},
	}
}

func errForbiddenSource() *httpError {
	return &httpError{code: http.StatusForbidden, outcome: outcomeForbidden, msg: "source address is not allowed"}
}

func errBusy() *httpError {
	return &httpError{
		code: http.StatusServiceUnavailable, outcome: outcomeTooManyRequests,
		msg: "too many webhooks in flight, retry later", retryAfter: retryAfterBusy,
	}
}

// errBusyBytes is errBusy for the byte budget: the bodies in flight
// already add up to --receiver-max-in-flight-bytes.
func errBusyBytes() *httpError {
	return &httpError{
		code: http.StatusServiceUnavailable, outcome: outcomeTooManyRequests,
		msg: "too many bytes of webhooks in flight, retry later", retryAfter: retryAfterBusy,
	}
}

// errBeingDeleted answers a delivery for an event that has a
// deletionTimestamp: what it stored now would vanish with the event, so
// the sender is asked to deliver it again once the event is gone. err is
// for the log line only.
func errBeingDeleted(err error) *httpError {
	return &httpError{
		code: http.StatusServiceUnavailable, outcome: outcomeUnavailable,
		msg: "the event is being deleted, retry later", retryAfter: retryAfterUnavailable, err: err,
	}
}

// errUnauthorized is deliberately vague: it does not say which credential
// was missing or wrong.
func errUnauthorized(msg string) *httpError {
	return &httpError{
		code: http.StatusUnauthorized, outcome: outcomeUnauthorized, msg: msg,
		header: http.Header{"Www-Authenticate": {`Basic realm="ingresse"`, `Bearer realm="ingresse"`}},
	}
}

func errTooLarge(limit int64) *httpError {
	return &httpError{code: http.StatusRequestEntityTooLarge, outcome: outcomeTooLarge, msg: fmt.Sprintf("body is larger than %d bytes", limit)}
}

func errUnsupportedMediaType(contentType string) *httpError {
	return &httpError{
		code: http.StatusUnsupportedMediaType, outcome: outcomeUnsupportedMediaType,
		msg: fmt.Sprintf("content type %q is not JSON: send application/json", text.Truncate(contentType, 64)),
	}
}

// errBadRequest names what is wrong with the body.
func errBadRequest(format string, args ...any) *httpError {
	return &httpError{code: http.StatusBadRequest, outcome: outcomeBadRequest, msg: fmt.Sprintf(format, args...)}
}

// errReadingBody is a body that could not be read: 408 when the sender was
// too slow (--receiver-read-timeout), 400 otherwise (a broken chunked
// encoding, a connection closed half way). The cause names this pod's
// address, so it goes to the log only.
func errReadingBody(cause error) *httpError {
	var netErr net.Error
	if errors.As(cause, &netErr) && netErr.Timeout() {
		return &httpError{code: http.StatusRequestTimeout, outcome: outcomeRequestTimeout, msg: "timed out reading the body", err: cause}
	}
	return &httpError{code: http.StatusBadRequest, outcome: outcomeBadRequest, msg: "the body could not be read", err: cause}
}

// asHTTPError is the one place that maps a failure to its answer. Errors
// the handler raised itself already are httpErrors; everything else comes
// from storing the event in the Kubernetes API.
//
// A payload the API server refuses (422 Invalid, 400, 413) will be refused
// again however often it is sent, so it is answered 422, naming the
// members it refused (data.title), not with the API server's message, which
// may name the namespace or an admission webhook. Everything else (timeouts, throttling, an unreachable or
// overloaded API server, RBAC, a missing namespace) is the receiver's
// problem, not the payload's: 503 with Retry-After, so that the sender
// delivers it again.
func asHTTPError(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	var invalid *eventstore.InvalidError
	if errors.As(err, &invalid) {
		// The store's refusal of the document names the member, nothing
		// of the cluster.
		return &httpError{code: http.StatusBadRequest, outcome: outcomeBadRequest, msg: invalid.Error()}
	}
	if errors.Is(err, eventstore.ErrBeingDeleted) {
		return errBeingDeleted(err)
	}
	if errors.Is(err, eventstore.ErrAheadOfClock) {
		// The message names the two times, nothing of the cluster.
		return &httpError{code: http.StatusUnprocessableEntity, outcome: outcomeAheadOfClock, msg: err.Error()}
	}
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsRequestEntityTooLargeError(err) {
		return &httpError{code: http.StatusUnprocessableEntity, outcome: outcomeInvalid, msg: eventstore.SchemaRefusal(err), err: err}
	}
	msg := "the Kubernetes API is unavailable, retry later"
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		msg = "storing the event timed out, retry later"
	}
	return &httpError{code: http.StatusServiceUnavailable, outcome: outcomeUnavailable, msg: msg, retryAfter: retryAfterUnavailable, err: err}
}

// retryAfterHeader formats a Retry-After value.
func retryAfterHeader(seconds int) string { return strconv.Itoa(seconds) }
