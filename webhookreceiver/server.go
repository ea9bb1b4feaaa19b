// Package webhookreceiver receives Ingresse's webhooks over HTTP and stores
// each event-create and event-update delivery as an IngresseEvent.
//
// Its promise to the sender: a 2xx answer means the event is stored in the
// Kubernetes API (or an equal or newer version already is); any other
// answer means "send it again". Its promise to the cluster: only a token
// (or signing secret) holder gets anything in, and an old delivery never
// overwrites a newer one, however many replicas receive deliveries at once.
//
// The Server is a controller-runtime Runnable that runs on every replica,
// leader or not. It reads IngresseEvents from the API server, never through
// an informer: its memory does not grow with the events stored.
package webhookreceiver

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
)

// webhookPath is where Ingresse posts.
const webhookPath = "/webhooks/ingresse"

// Server states, for readiness.
const (
	stateStarting int32 = iota
	stateServing
	stateShuttingDown
)

// Server receives Ingresse webhooks and stores events as IngresseEvents.
type Server struct {
	opts Options
	// writer stores deliveries; verifier, when set, reads each one back
	// from Ingresse's API first (--receiver-verify-with-api).
	writer   *eventstore.Writer
	verifier EventSource
	// refusalLog samples the log lines of refused unauthenticated requests,
	// busyLog those of deliveries turned away by the in-flight bound.
	refusalLog *sampledLog
	busyLog    *sampledLog
	log        logr.Logger
	metrics    *metrics

	tokens  *credentialFile[tokenSet, *tokenSet]
	secrets *credentialFile[secretSet, *secretSet]

	// inFlight is a semaphore bounding the deliveries handled at once;
	// unverified, a smaller one for deliveries whose signature is not
	// checked yet (see handle).
	inFlight   chan struct{}
	unverified chan struct{}
	// bodyBudget bounds the bytes of the bodies being handled.
	bodyBudget *bodyBudget

	state   atomic.Int32
	started atomic.Bool
	// cannotVerify is set while the verifier says it cannot read events,
	// so that readiness logs the change, not every probe.
	cannotVerify atomic.Bool
	// addr is the address Start listens on, once it does.
	addr atomic.Pointer[string]

	// now is the clock; tests move it.
	now func() time.Time
}

// New builds a receiver. opts must have its defaults filled (see
// Options.Default). c is the manager's client, which writes IngresseEvents;
// apiReader reads them from the API server. recorder records Kubernetes Events on the
// IngresseEvents (nil records none); reg receives the metrics (nil
// registers none). At least one token or signing secret must be readable
// now unless opts.InsecureSkipAuth is set.
func New(opts Options, c client.Client, apiReader client.Reader, recorder recorder.EventRecorder, reg prometheus.Registerer, log logr.Logger) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if c == nil || apiReader == nil {
		return nil, errors.New("the webhook receiver needs a client and an API reader")
	}
	opts.AllowedCIDRs = masked(opts.AllowedCIDRs)
	opts.TrustedProxies = masked(opts.TrustedProxies)
	s := &Server{
		opts:       opts,
		verifier:   opts.VerifyWith,
		refusalLog: newSampledLog(refusalLogsPerSecond, refusalLogBurst),
		busyLog:    newSampledLog(refusalLogsPerSecond, refusalLogBurst),
		log:        log,
		inFlight:   make(chan struct{}, opts.MaxInFlight),
		unverified: make(chan struct{}, max(1, opts.MaxInFlight/unverifiedShare)),
		bodyBudget: newBodyBudget(opts.MaxInFlightBytes, opts.MaxBodyBytes),
		now:        time.Now,
	}
	s.metrics = newMetrics(s.bodyBudget)
	s.writer = eventstore.NewWriter(c, apiReader, recorder, eventstore.WriterOptions{
		Namespace: opts.Namespace, EventsPerSecond: opts.EventsPerSecond, MaxClockSkew: opts.MaxClockSkew,
		WriteConflicts: s.metrics.writeConflicts, EventsSkipped: s.metrics.eventsSkipped,
		Now: func() time.Time { return s.now() },
	})
	if err := s.loadCredentials(); err != nil {
		return nil, err
	}
	if err := s.metrics.register(reg); err != nil {
		return nil, err
	}
	return s, nil
}

// loadCredentials reads the token and signing secret files once, so that a
// receiver never starts without reading the credentials it was told to use.
// Files that hold none (every credential revoked) start a receiver that
// refuses every delivery, and say so.
func (s *Server) loadCredentials() error {
	if s.opts.TokenFile != "" {
		s.tokens = newCredentialFile("token", s.opts.TokenFile, parseTokens)
		if _, err := s.tokens.reload(s.now()); err != nil {
			if !s.opts.InsecureSkipAuth {
				return err
			}
			s.log.Error(err, "Starting without tokens; the file is re-read", "path", s.opts.TokenFile)
		}
	}
	if s.opts.SigningSecretFile != "" {
		s.secrets = newCredentialFile("signing secret", s.opts.SigningSecretFile, parseSigningSecrets)
		if _, err := s.secrets.reload(s.now()); err != nil {
			return err
		}
	}
	s.tokens.observe(s.metrics)
	s.secrets.observe(s.metrics)
	switch {
	case s.tokens.get().len() > 0 || s.secrets.get().len() > 0:
	case s.opts.InsecureSkipAuth:
		s.log.Info("Accepting webhooks without authentication until a token is configured: for development only")
	case s.tokens == nil && s.secrets == nil:
		return errors.New("no webhook credentials: configure a token file (or a signing secret file); " +
			"only for development, skip authentication explicitly")
	default:
		s.log.Error(nil, "The credential files hold no token and no signing secret: every delivery is refused until one is added",
			"tokenFile", s.opts.TokenFile, "signingSecretFile", s.opts.SigningSecretFile)
	}
	return nil
}

// masked canonicalises prefixes (10.1.2.3/8 -> 10.0.0.0/8).
func masked(prefixes []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		out = append(out, p.Masked())
	}
	return out
}

// Handler is the receiver's HTTP handler, for tests and for mounting it
// elsewhere. Credentials are re-read from their files only while Start
// runs.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// NeedLeaderElection is false: every replica receives webhooks, the
// leader or not, since the Service spreads deliveries over all of them.
func (s *Server) NeedLeaderElection() bool { return false }

// ReadyzCheck is a healthz.Checker: it fails until the receiver listens
// and can read IngresseEvents, and fails again as soon as shutdown begins,
// so that the Service stops sending deliveries before they are drained. In
// verified mode it also fails while the verifier cannot read events for
// want of credentials (VerifyWith's CanReadEvents), when every delivery
// would get 503: the pod says what it can do, and the check, which runs
// without deliveries, is what sees a rotated Secret and makes it ready
// again.
func (s *Server) ReadyzCheck(_ *http.Request) error {
	switch s.state.Load() {
	case stateServing:
	case stateShuttingDown:
		return errors.New("the webhook receiver is shutting down")
	default:
		return errors.New("the webhook receiver is not listening yet")
	}
	if s.verifier == nil {
		return nil
	}
	if err := s.verifier.CanReadEvents(); err != nil {
		if s.cannotVerify.CompareAndSwap(false, true) {
			s.log.Error(err, "Not ready: deliveries cannot be verified with Ingresse's API until its credentials file is fixed")
		}
		return fmt.Errorf("the webhook receiver cannot verify deliveries with Ingresse's API: %w", err)
	}
	if s.cannotVerify.CompareAndSwap(true, false) {
		s.log.Info("Ready again: deliveries can be verified with Ingresse's API")
	}
	return nil
}

// Start serves webhooks until ctx is done, then stops reporting ready,
// keeps serving for ShutdownDelay while the endpoints update, and drains
// the deliveries in flight for at most ShutdownTimeout. A delivery that
// started before shutdown is answered; its API calls are bounded by
// RequestTimeout, not by ctx.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("the webhook receiver was already started")
	}
	ln, err := net.Listen("tcp", s.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("listening for webhooks on %s: %w", s.opts.BindAddress, err)
	}
	addr := ln.Addr().String()
	s.addr.Store(&addr)

	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		ErrorLog:          stdlog.New(serverErrorLog{s.log}, "", 0),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	background, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	go s.tokens.watch(background, s.opts.TokenReloadInterval, s.now, s.log, s.metrics)
	go s.secrets.watch(background, s.opts.TokenReloadInterval, s.now, s.log, s.metrics)
	go func() {
		if s.warmUp(background) {
			s.state.CompareAndSwap(stateStarting, stateServing)
			s.log.Info("Receiving webhooks", "address", addr, "path", webhookPath, "namespace", s.opts.Namespace)
		}
	}()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		s.state.Store(stateShuttingDown)
		return fmt.Errorf("serving webhooks on %s: %w", addr, err)
	}

	s.state.Store(stateShuttingDown)
	// From now on every answer closes its connection (see serveHTTP), so
	// that senders reconnect to a replica that stays. Idle keep-alive
	// connections are left open until Shutdown, after the delay: closing
	// them now (as SetKeepAlivesEnabled(false) does) races with a sender,
	// or an ingress's upstream pool, reusing one, and resets a POST that
	// most clients do not retry.
	s.log.Info("Shutting down: not ready, draining after the delay", "delay", s.opts.ShutdownDelay, "timeout", s.opts.ShutdownTimeout)
	if s.opts.ShutdownDelay > 0 {
		timer := time.NewTimer(s.opts.ShutdownDelay)
		select {
		case <-timer.C:
		case err := <-serveErr:
			timer.Stop()
			return fmt.Errorf("serving webhooks on %s: %w", addr, err)
		}
	}
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(drain); err != nil {
		_ = srv.Close()
		return fmt.Errorf("draining webhooks in flight on %s: %w", addr, err)
	}
	s.log.Info("Stopped receiving webhooks", "address", addr)
	return nil
}

// warmUp waits until IngresseEvents can be read from the API server, the
// read every delivery starts with, so that a receiver that cannot reach it
// (or may not read there) is not ready. It retries until ctx is done and
// reports whether it succeeded.
func (s *Server) warmUp(ctx context.Context) bool {
	backoff := wait.Backoff{Duration: time.Second, Factor: 2, Cap: 30 * time.Second, Steps: math.MaxInt32}
	err := backoff.DelayFunc().Until(ctx, true, false, func(ctx context.Context) (bool, error) {
		err := s.writer.CanRead(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error(err, "Cannot read IngresseEvents yet; not ready", "namespace", s.opts.Namespace)
		}
		return err == nil, nil
	})
	return err == nil
}

// listenAddr is the address Start listens on, or "" before it does.
func (s *Server) listenAddr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// serverErrorLog sends net/http's own error messages (bad TLS handshakes,
// accept errors) to the structured log.
type serverErrorLog struct{ log logr.Logger }

func (l serverErrorLog) Write(p []byte) (int, error) {
	l.log.Info("HTTP server error", "message", strings.TrimSpace(string(p)))
	return len(p), nil
}
