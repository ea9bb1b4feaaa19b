package webhookreceiver

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
)

// Defaults of Options, applied by Default to every zero field.
const (
	DefaultBindAddress         = ":8082"
	DefaultMaxBodyBytes        = 1 << 20 // 1 MiB; Ingresse's example is about 3 KiB
	DefaultMaxInFlight         = 128
	DefaultMaxInFlightBytes    = 16 << 20 // 16 MiB of bodies; see MaxInFlightBytes
	DefaultRequestTimeout      = 5 * time.Second
	DefaultShutdownDelay       = 5 * time.Second
	DefaultShutdownTimeout     = 25 * time.Second
	DefaultTokenReloadInterval = 10 * time.Second
	DefaultReadHeaderTimeout   = 5 * time.Second
	DefaultReadTimeout         = 15 * time.Second
	DefaultWriteTimeout        = 30 * time.Second
	DefaultIdleTimeout         = 90 * time.Second
	DefaultMaxHeaderBytes      = 16 << 10
	DefaultEventsPerSecond     = 5
)

// Options configure the receiver. cmd/main.go fills them from flags; the
// flag of each field is named in its comment.
type Options struct {
	// BindAddress is the address the receiver listens on
	// (--receiver-bind-address).
	BindAddress string

	// Namespace is where IngresseEvents are written. Required; cmd decides
	// the default (the pod's own namespace).
	Namespace string

	// TokenFile holds the accepted tokens, one per line; blank lines and
	// lines starting with # are ignored (--receiver-token-file). Several
	// tokens at once allow rotation with overlap. The file is re-read while
	// the server runs, so an updated Secret volume takes effect without a
	// restart.
	TokenFile string

	// InsecureSkipAuth allows starting with no token and no signing secret
	// configured, in which case every delivery is accepted
	// (--receiver-insecure-skip-auth). For local development only.
	InsecureSkipAuth bool

	// SigningSecretFile optionally holds Standard Webhooks signing secrets
	// (whsec_<base64>), one per line (--receiver-signing-secret-file). A
	// delivery with a valid signature needs no token.
	SigningSecretFile string

	// AllowedCIDRs, when not empty, is the list of source networks allowed
	// to deliver (--receiver-allowed-cidrs). Others get 403.
	AllowedCIDRs []netip.Prefix

	// TrustedProxies are the peers whose X-Forwarded-For header is believed
	// when finding the source address (--receiver-trusted-proxies): the
	// Ingress controller's pod network, typically.
	TrustedProxies []netip.Prefix

	// MaxBodyBytes bounds a delivery's body; larger ones get 413
	// (--receiver-max-body-bytes).
	MaxBodyBytes int64

	// MaxInFlight bounds the deliveries handled at once; beyond it the
	// receiver answers 503 with Retry-After at once instead of queueing
	// (--receiver-max-in-flight).
	MaxInFlight int

	// MaxInFlightBytes bounds the bytes of the bodies handled at once
	// (--receiver-max-in-flight-bytes): each delivery reserves its
	// declared length (MaxBodyBytes when it declares none) before its body
	// is read, then its bytes plus tokenCost per JSON token once read, and
	// past the budget the answer is 503 with Retry-After. A
	// body costs several times its size in memory while it is handled, so
	// this, not MaxInFlight, is what keeps a flood of large deliveries
	// under the pod's memory limit. It must be at least MaxBodyBytes.
	MaxInFlightBytes int64

	// RequestTimeout bounds the Kubernetes API work for one delivery
	// (--receiver-request-timeout). When it expires the answer is 503.
	RequestTimeout time.Duration

	// ShutdownDelay is how long the receiver keeps serving, while reporting
	// not ready, before it starts draining: time for the Service to take
	// the pod out of its endpoints (--receiver-shutdown-delay).
	ShutdownDelay time.Duration

	// ShutdownTimeout bounds the draining of in-flight deliveries
	// (--receiver-shutdown-timeout).
	ShutdownTimeout time.Duration

	// TokenReloadInterval is how often TokenFile and SigningSecretFile are
	// checked for changes (--receiver-token-reload-interval).
	TokenReloadInterval time.Duration

	// ReadHeaderTimeout bounds reading a request's headers
	// (--receiver-read-header-timeout).
	ReadHeaderTimeout time.Duration

	// ReadTimeout bounds reading a whole request, body included
	// (--receiver-read-timeout).
	ReadTimeout time.Duration

	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the answer; it must exceed RequestTimeout
	// (--receiver-write-timeout).
	WriteTimeout time.Duration

	// IdleTimeout bounds how long an idle keep-alive connection is kept
	// (--receiver-idle-timeout).
	IdleTimeout time.Duration

	// MaxHeaderBytes bounds the request line and headers, query token
	// included (--receiver-max-header-bytes).
	MaxHeaderBytes int

	// EventsPerSecond bounds the Kubernetes Events (Created, Updated,
	// StaleDelivery) the receiver records on IngresseEvents, with a burst
	// of ten seconds' worth (--receiver-events-per-second). At Ingresse's
	// pace every delivery gets its Event; a flood of deliveries does not
	// become a second stream of API writes, nor fill client-go's Event
	// cache, which keeps each Event for up to 12 minutes. Events beyond the
	// bound are counted in ingresse_receiver_events_skipped_total. 0
	// records none.
	EventsPerSecond float64

	// MaxClockSkew is how far ahead of the receiver's clock a delivery's
	// data.updatedAt may be (--receiver-max-clock-skew). A version dated
	// further ahead is refused with 422, and a stored one counts as the
	// oldest (any valid version replaces it): otherwise one delivery dated
	// 9999, or a wrong clock at Ingresse, would make every later version
	// of its event stale.
	MaxClockSkew time.Duration

	// VerifyWith, when set, reads every event delivery back from
	// Ingresse's API before storing it, and stores the API's copy
	// (--receiver-verify-with-api): a delivery the API does not confirm is
	// never stored, and the receiver is not ready while VerifyWith says it
	// cannot read events for want of credentials. See verify.go.
	VerifyWith EventSource
}

// Default fills every zero field with its default. Call it before binding
// flags to the fields, so that the flags show the defaults and a flag set to
// 0 (e.g. --receiver-shutdown-delay=0) stays 0: New does not call it, and
// rejects the zero values it cannot work with.
func (o *Options) Default() {
	if o.BindAddress == "" {
		o.BindAddress = DefaultBindAddress
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.MaxInFlightBytes == 0 {
		o.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.ShutdownDelay == 0 {
		o.ShutdownDelay = DefaultShutdownDelay
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.TokenReloadInterval == 0 {
		o.TokenReloadInterval = DefaultTokenReloadInterval
	}
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.EventsPerSecond == 0 {
		o.EventsPerSecond = DefaultEventsPerSecond
	}
	if o.MaxClockSkew == 0 {
		o.MaxClockSkew = eventstore.DefaultMaxClockSkew
	}
}

// validate reports every option that cannot work.
func (o *Options) validate() error {
	var errs []error
	if o.BindAddress == "" {
		errs = append(errs, errors.New("a bind address is required"))
	}
	if o.Namespace == "" {
		errs = append(errs, errors.New("a namespace is required"))
	}
	if o.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("max body bytes must be positive, got %d", o.MaxBodyBytes))
	}
	if o.MaxInFlight <= 0 {
		errs = append(errs, fmt.Errorf("max in flight must be positive, got %d", o.MaxInFlight))
	}
	if o.MaxInFlightBytes < o.MaxBodyBytes {
		// A delivery of the largest accepted size could never be handled.
		errs = append(errs, fmt.Errorf("max in-flight bytes (%d) must be at least the max body bytes (%d)", o.MaxInFlightBytes, o.MaxBodyBytes))
	}
	if o.MaxHeaderBytes <= 0 {
		errs = append(errs, fmt.Errorf("max header bytes must be positive, got %d", o.MaxHeaderBytes))
	}
	if o.EventsPerSecond < 0 {
		errs = append(errs, fmt.Errorf("events per second must not be negative, got %g", o.EventsPerSecond))
	}
	if o.ShutdownDelay < 0 {
		errs = append(errs, fmt.Errorf("shutdown delay must not be negative, got %s", o.ShutdownDelay))
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"request timeout", o.RequestTimeout}, {"shutdown timeout", o.ShutdownTimeout},
		{"token reload interval", o.TokenReloadInterval}, {"read header timeout", o.ReadHeaderTimeout},
		{"read timeout", o.ReadTimeout}, {"write timeout", o.WriteTimeout}, {"idle timeout", o.IdleTimeout},
		{"max clock skew", o.MaxClockSkew},
	} {
		if d.value <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", d.name, d.value))
		}
	}
	// Otherwise a delivery that uses its whole API budget could never be
	// answered: the connection would be cut and the sender would see no
	// status at all.
	if o.WriteTimeout <= o.RequestTimeout {
		errs = append(errs, fmt.Errorf("write timeout (%s) must be longer than the request timeout (%s)", o.WriteTimeout, o.RequestTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid receiver options (unset fields need Options.Default): %w", err)
	}
	return nil
}
