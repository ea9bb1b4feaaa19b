package ingresseapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ingresse-operator/ingresse-operator/internal/text"
)

// API error codes that change what the client does. Ingresse documents
// none of them; they are the ones its SDKs act on.
const (
	// codeTokenExpired and codeTokenExpiredAlt ask for a new JWT.
	codeTokenExpired    = 2006
	codeTokenExpiredAlt = 6065
	// codeTokenInvalid is a JWT that renewing does not help.
	codeTokenInvalid = 6062
	// codeNotFound is v1's "event not found".
	codeNotFound = 3002
)

const (
	// maxMessage bounds an API's message in an *Error.
	maxMessage = 200
	// maxRetryAfter caps the wait a Retry-After header can ask for.
	maxRetryAfter = 5 * time.Minute
)

// Error is a call to Ingresse's API that failed, after its attempts. It
// holds no credential and no URL query: it is safe to log and to put into a
// status condition.
type Error struct {
	// Endpoint is the call that failed: EndpointEvent, EndpointList or
	// EndpointRenew (getting a new JWT for one of the others).
	Endpoint string
	// URL is the request's address without its query.
	URL string
	// StatusCode is the last answer's HTTP status; 0 when none came.
	StatusCode int
	// Code is the API's own error code (a v2 error's code, a v1
	// responseError's code); 0 when the answer had none.
	Code int
	// Message is the API's own message, truncated, with any credential
	// removed.
	Message string
	// RetryAfter is how long the API asked to wait, from its last answer's
	// Retry-After header; 0 when it did not say.
	RetryAfter time.Duration
	// Attempts is how many requests the call made.
	Attempts int

	// reason is the failure in the client's own words ("HTTP 404",
	// "malformed answer", "HTTP 401 and no usertoken to renew the JWT").
	reason string
	// retry is why the failure may be retried, one of the retry reasons;
	// empty when it may not.
	retry string
	// notFound is set when a successful answer does not hold the event.
	notFound bool
	// err is the cause: a network error with its URL stripped, or a JSON
	// syntax error.
	err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ingresse API ")
	b.WriteString(e.Endpoint)
	if e.URL != "" {
		b.WriteString(" (GET ")
		b.WriteString(e.URL)
		b.WriteString(")")
	}
	b.WriteString(": ")
	switch {
	case e.reason != "":
		b.WriteString(e.reason)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	default:
		b.WriteString("failed")
	}
	switch {
	case e.Code != 0 && e.Message != "":
		fmt.Fprintf(&b, " (code %d: %s)", e.Code, e.Message)
	case e.Code != 0:
		fmt.Fprintf(&b, " (code %d)", e.Code)
	case e.Message != "":
		fmt.Fprintf(&b, " (%s)", e.Message)
	}
	if e.err != nil {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, "; %d attempts", e.Attempts)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the cause, when there is one (a network error).
func (e *Error) Unwrap() error { return e.err }

// IsNotFound reports whether err is Ingresse saying that the event does
// not exist: an HTTP 404, a v1 error 3002, or a search answer without it.
func IsNotFound(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	// A 404 from the JWT renewal says the API URL is wrong, not the event.
	return e.Endpoint != EndpointRenew && (e.notFound || e.StatusCode == http.StatusNotFound || e.Code == codeNotFound)
}

// IsUnrecognised reports whether err is an answer this package cannot
// read: well-formed JSON in a shape it does not know, or another event
// than the one asked for. Retrying will not help; the client's shapes may
// need a fix.
func IsUnrecognised(err error) bool { return errors.Is(err, errShape) }

// needsRenewal reports whether the answer says the JWT expired: HTTP 401 or
// the codes 2006 and 6065, but not 6062 (an invalid JWT stays invalid).
func (e *Error) needsRenewal() bool {
	if e.Code == codeTokenInvalid {
		return false
	}
	return e.StatusCode == http.StatusUnauthorized || e.Code == codeTokenExpired || e.Code == codeTokenExpiredAlt
}

// statusError is the *Error for a non-2xx answer, retryable when it is 429
// or 5xx.
func statusError(endpoint, u string, status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{Endpoint: endpoint, URL: u, StatusCode: status, reason: fmt.Sprintf("HTTP %d", status)}
	e.RetryAfter = parseRetryAfter(header.Get("Retry-After"), now)
	e.Code, e.Message = parseErrorBody(body)
	switch {
	case status == http.StatusTooManyRequests:
		e.retry = reasonTooManyRequests
	case status >= 500:
		e.retry = reasonServerError
	}
	return e
}

// parseErrorBody reads a v2 error {code, message, info}, or a v1 one
// {"responseError": {code, message, category}}. A body that is not JSON
// gives its first words when they are plain text (a proxy's page), else
// nothing.
func parseErrorBody(body []byte) (code int, message string) {
	var v struct {
		Code          any    `json:"code"`
		Message       string `json:"message"`
		ResponseError *struct {
			Code    any    `json:"code"`
			Message string `json:"message"`
		} `json:"responseError"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, plainText(body)
	}
	if v.ResponseError != nil {
		return intCode(v.ResponseError.Code), safeMessage(v.ResponseError.Message)
	}
	return intCode(v.Code), safeMessage(v.Message)
}

// intCode reads an error code sent as a number or a string of digits.
func intCode(v any) int {
	switch c := v.(type) {
	case float64:
		return int(c)
	case string:
		n, _ := strconv.Atoi(c)
		return n
	}
	return 0
}

// safeMessage is an API's message made fit for a log line: control
// characters replaced, truncated.
func safeMessage(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return text.Truncate(strings.TrimSpace(s), maxMessage)
}

// plainText is a non-JSON body's first words when it looks like text and
// not like HTML.
func plainText(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || strings.HasPrefix(s, "<") || !isText(s) {
		return ""
	}
	return safeMessage(s)
}

func isText(s string) bool {
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

// parseRetryAfter reads a Retry-After header, in seconds or as an HTTP
// date, capped at maxRetryAfter; 0 when absent or unreadable.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// redactURL is u without userinfo, query or fragment: what an error and a
// log line may show.
func redactURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// stripURL removes the query from the URL a network error names: the Go
// client puts the whole request URL, apikey included, into its errors.
func stripURL(err error, u string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: u, Err: ue.Err}
	}
	return err
}
