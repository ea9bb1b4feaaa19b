package webhookreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ingresse-operator/ingresse-operator/internal/text"
)

// answer is a success: its status code and body.
type answer struct {
	code int
	body answerBody
}

// answerBody is every answer's JSON body: a status and the IngresseEvent
// it concerns, or an error naming the problem.
type answerBody struct {
	Status    string `json:"status,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	Error     string `json:"error,omitempty"`
}

// otherPath is what the log says of a path other than the webhook path.
const otherPath = "(not the webhook path)"

// request is what the log line and the metrics say about one request.
type request struct {
	start   time.Time
	webhook string // metric label: a documented type, unknown or none
	eventID int64
	name    string
	// authenticated is set once a token matched or a signature verified:
	// until then the request is anyone's, and so is its refusal.
	authenticated bool
}

// serveHTTP handles one request. Checks run cheapest and most general
// first: method and path, source address, credentials and the in-flight
// bound, all before the body is read; then size and content type, decoding
// and storing. Every path writes one answer and returns.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{start: time.Now(), webhook: webhookNone}
	if s.state.Load() == stateShuttingDown {
		// net/http closes the connection after this answer.
		w.Header().Set("Connection", "close")
	}
	ans, err := s.handle(w, r, req)
	if err != nil {
		s.fail(w, r, req, err)
		return
	}
	s.succeed(w, r, req, ans)
}

// handle authenticates, reads, decodes and stores one delivery.
//
// A delivery authenticated by a token holds an in-flight slot while its
// body is read (--receiver-read-timeout bounds a slow one). One that
// carries signature headers is anyone's until its body is read and its
// signature checked: it is read first, in a small share of slots of its
// own and against a short deadline, so that slow senders of unsigned junk
// cannot hold the slots real deliveries need.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, req *request) (answer, error) {
	if err := s.route(r); err != nil {
		return answer{}, err
	}
	auth, err := s.authenticate(r)
	if err != nil {
		return answer{}, err
	}
	var body []byte
	if auth.signature != nil {
		var bytes *reservation
		body, bytes, err = s.readUnverified(w, r, auth)
		defer bytes.release()
		if err != nil {
			return answer{}, err
		}
	}
	req.authenticated = true
	release, err := s.acquire(s.inFlight)
	if err != nil {
		return answer{}, err
	}
	s.metrics.inFlight.Inc()
	defer func() {
		release()
		s.metrics.inFlight.Dec()
	}()
	if body == nil {
		var bytes *reservation
		body, bytes, err = s.readChecked(w, r)
		defer bytes.release()
		if err != nil {
			return answer{}, err
		}
	}
	return s.decodeAndStore(r, req, body)
}

// route checks the path, the method and the source address.
func (s *Server) route(r *http.Request) error {
	if r.URL.Path != webhookPath {
		return errNotFound()
	}
	if r.Method != http.MethodPost {
		return errMethodNotAllowed(r.Method)
	}
	return s.checkSource(r)
}

// acquire takes a slot of sem without waiting: a receiver that queued
// would only trade memory for a timeout. The caller must call release.
func (s *Server) acquire(sem chan struct{}) (release func(), err error) {
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	default:
		return nil, errBusy()
	}
}

// readUnverified reads the body of a delivery that claims a signature, in
// the unverified share of slots and by unverifiedReadTimeout, and checks
// the signature.
func (s *Server) readUnverified(w http.ResponseWriter, r *http.Request, auth authDecision) ([]byte, *reservation, error) {
	release, err := s.acquire(s.unverified)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	// Not supported by every ResponseWriter (tests' recorders); the
	// server's read timeout still applies then.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(min(unverifiedReadTimeout, s.opts.ReadTimeout)))
	body, bytes, err := s.readChecked(w, r)
	if err != nil {
		return nil, bytes, err
	}
	if err := s.verifySignature(auth, body); err != nil {
		return nil, bytes, err
	}
	return body, bytes, nil
}

// The share of --receiver-max-in-flight that deliveries with signature
// headers may hold while their body is read and not yet verified, and how
// long they may take to send it.
const (
	unverifiedShare       = 8 // one eighth
	unverifiedReadTimeout = 5 * time.Second
)

// readChecked refuses a body that is declared too large or is not JSON,
// reserves its share of the byte budget, then reads it. The caller
// releases the reservation (nil when none was taken) once the delivery is
// answered: the body's decoded copies live until then.
func (s *Server) readChecked(w http.ResponseWriter, r *http.Request) ([]byte, *reservation, error) {
	// A declared length over the limit is refused before reading a byte.
	if r.ContentLength > s.opts.MaxBodyBytes {
		return nil, nil, errTooLarge(s.opts.MaxBodyBytes)
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, nil, err
	}
	bytes, err := s.bodyBudget.reserve(r.ContentLength)
	if err != nil {
		return nil, nil, err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		bytes.shrink(int64(len(body)))
		return body, bytes, err
	}
	// What it will hold decoded, reserved before it is decoded.
	return body, bytes, bytes.settle(body)
}

// decodeAndStore decodes an authenticated delivery and stores its event.
func (s *Server) decodeAndStore(r *http.Request, req *request, body []byte) (answer, error) {
	label, d, err := decodeEnvelope(body)
	req.webhook = label
	if err != nil {
		return answer{}, err
	}
	if d == nil {
		return answer{code: http.StatusAccepted, body: answerBody{Status: outcomeIgnored}}, nil
	}
	req.eventID, req.name = d.Spec.ID, d.Name()

	// r.Context() ends when the sender goes away; the timeout bounds the
	// API work so that the answer still fits in the write timeout.
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	receivedAt := s.now()
	if s.verifier != nil {
		// Refused at once, not after asking the API: the API's copy can
		// never be as new as a version from the future.
		if err := s.writer.CheckClock(d); err != nil {
			return answer{}, err
		}
		if d, err = s.verify(ctx, d, receivedAt); err != nil {
			return answer{}, err
		}
	}
	outcome, err := s.writer.Store(ctx, d, receivedAt)
	if err != nil {
		return answer{}, err
	}
	code := http.StatusOK
	if outcome == outcomeCreated {
		code = http.StatusCreated
	}
	return answer{code: code, body: answerBody{Status: outcome, Namespace: s.opts.Namespace, Name: d.Name()}}, nil
}

// checkContentType accepts JSON (application/json with any parameters, or
// a +json type) and no content type at all; a charset other than UTF-8 is
// refused since JSON is UTF-8.
func checkContentType(contentType string) error {
	if contentType == "" {
		return nil
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return errUnsupportedMediaType(contentType)
	}
	structuredJSON := strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json")
	if mediaType != "application/json" && !structuredJSON {
		return errUnsupportedMediaType(contentType)
	}
	if charset, ok := params["charset"]; ok && !strings.EqualFold(charset, "utf-8") && !strings.EqualFold(charset, "utf8") {
		return errUnsupportedMediaType(contentType)
	}
	return nil
}

// readBody reads the body through http.MaxBytesReader, which also covers a
// body sent without a Content-Length (chunked).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	defer func() { _ = body.Close() }()
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(body); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge(s.opts.MaxBodyBytes)
		}
		return nil, errReadingBody(err)
	}
	return buf.Bytes(), nil
}

// fail answers a failure with the status code asHTTPError maps it to.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, req *request, err error) {
	he := asHTTPError(err)
	for name, values := range he.header {
		w.Header()[name] = values
	}
	if he.retryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterHeader(he.retryAfter))
	}
	writeJSON(w, he.code, answerBody{Error: he.msg})
	s.observe(req, he.outcome)

	kv := append(s.logValues(r, req, he.outcome, he.code), "reason", he.msg)
	if he.err != nil && he.code < 500 {
		kv = append(kv, "cause", text.Truncate(he.err.Error(), 512))
	}
	switch {
	case he.outcome == outcomeTooManyRequests:
		// Load shedding comes in floods too: a sample, and every one in
		// requests_total.
		if suppressed, ok := s.busyLog.allow(); ok {
			s.log.Info("Webhook not stored: too many in flight", append(kv, "similarSuppressed", suppressed)...)
		}
	case he.code >= 500:
		s.log.Error(err, "Webhook not stored", kv...)
	case !req.authenticated:
		// Refused before a token matched or a signature verified: anyone
		// on the internet can cause these, as fast as they like, whatever
		// the reason (path, method, source, credentials, or the size,
		// type or body of a delivery whose signature is still unchecked).
		// The log gets a sample, requests_total gets every one.
		log := s.log
		if he.code == http.StatusNotFound || he.code == http.StatusMethodNotAllowed {
			if log = s.log.V(1); !log.Enabled() {
				return
			}
		}
		if suppressed, ok := s.refusalLog.allow(); ok {
			log.Info("Webhook refused", append(kv, "similarSuppressed", suppressed)...)
		}
	default:
		s.log.Info("Webhook refused", kv...)
	}
}

// Refusals of unauthenticated requests, and deliveries turned away by the
// in-flight bound, are logged at most this often (each kind).
const (
	refusalLogsPerSecond = 1
	refusalLogBurst      = 5
)

// sampledLog lets a few log lines through per second and counts the rest,
// which the next line that goes through reports.
type sampledLog struct {
	limiter    *rate.Limiter
	suppressed atomic.Int64
}

func newSampledLog(perSecond float64, burst int) *sampledLog {
	return &sampledLog{limiter: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// allow reports whether a line may be logged now and, if so, how many were
// suppressed since the last one.
func (l *sampledLog) allow() (suppressed int64, ok bool) {
	if !l.limiter.Allow() {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

// succeed writes a success.
func (s *Server) succeed(w http.ResponseWriter, r *http.Request, req *request, ans answer) {
	writeJSON(w, ans.code, ans.body)
	s.observe(req, ans.body.Status)
	s.metrics.delivered(s.now())
	kv := s.logValues(r, req, ans.body.Status, ans.code)
	if ans.body.Status == outcomeCreated || ans.body.Status == outcomeUpdated || ans.body.Status == outcomeRepaired {
		s.log.Info("Webhook stored", kv...)
		return
	}
	s.log.V(1).Info("Webhook answered", kv...)
}

// logValues are the key/value pairs of a request's log line. The URL's
// query (where a token may be) and the body are never logged, and neither
// is any path but the webhook path: a sender that put its token in a path
// segment, as a URL-only registration invites, would find it in the logs.
func (s *Server) logValues(r *http.Request, req *request, outcome string, code int) []any {
	path := webhookPath
	if r.URL.Path != webhookPath {
		path = otherPath
	}
	kv := []any{
		"outcome", outcome, "code", code, "webhook", req.webhook,
		"method", text.Truncate(r.Method, 16), "path", path,
		"source", sourceAddr(r, s.opts.TrustedProxies).String(),
	}
	if req.eventID > 0 {
		kv = append(kv, "eventID", req.eventID, "namespace", s.opts.Namespace, "name", req.name)
	}
	return kv
}

func (s *Server) observe(req *request, outcome string) {
	s.metrics.requests.WithLabelValues(req.webhook, outcome).Inc()
	s.metrics.duration.WithLabelValues(outcome).Observe(time.Since(req.start).Seconds())
}

// writeJSON writes an answer.
func writeJSON(w http.ResponseWriter, code int, body answerBody) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
