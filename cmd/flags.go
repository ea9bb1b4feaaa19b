package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
	"github.com/ingresse-operator/ingresse-operator/internal/retention"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver"
)

// config is everything the manager binary is told on its command line.
type config struct {
	namespace               string
	leaderElect             bool
	leaderElectionID        string
	leaderElectionNamespace string
	leaseDuration           time.Duration
	renewDeadline           time.Duration
	retryPeriod             time.Duration
	metricsAddr             string
	metricsSecure           bool
	metricsCertDir          string
	enableHTTP2             bool
	probeAddr               string
	pprofAddr               string
	enableReceiver          bool
	enableController        bool
	maxConcurrentReconciles int
	cacheSyncTimeout        time.Duration
	watchedMaxEvents        int
	watchedMaxBytes         int64
	kubeAPIQPS              float64
	kubeAPIBurst            int
	gracefulShutdownTimeout time.Duration
	gcPercent               int

	receiver webhookreceiver.Options
	zap      zap.Options

	// ingresse configures Ingresse's API client; resyncInterval and
	// verifyWithAPI what uses it.
	ingresse       ingresseapi.Options
	listQuery      string
	resyncInterval time.Duration
	verifyWithAPI  bool

	retention retention.Options
}

// useIngresseAPI reports whether the manager talks to Ingresse's API.
func (c *config) useIngresseAPI() bool { return c.ingresse.CredentialsFile != "" }

// ingresseOptions are the options of Ingresse's API client for what this
// process does with it: a listing only when it sweeps, the event read only
// when its receiver verifies deliveries. The client refuses credentials
// that cannot serve those, and judges no other.
func (c *config) ingresseOptions() ingresseapi.Options {
	o := c.ingresse
	if !c.runResync() {
		o.CompanyID, o.ProducerID = 0, 0
	}
	o.ReadEvents = c.verifyWithAPI && c.enableReceiver
	return o
}

// runResync reports whether this process sweeps Ingresse's listing: it
// needs credentials, a positive interval, and the controller (whose leader
// election makes it the only sweeper).
func (c *config) runResync() bool {
	return c.useIngresseAPI() && c.resyncInterval > 0 && c.enableController
}

// serviceAccountNamespaceFile holds the pod's own namespace in a cluster.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// defaultNamespace is the pod's own namespace in a cluster (POD_NAMESPACE
// from the downward API, else the service account's), and "default"
// outside one.
func defaultNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile(serviceAccountNamespaceFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	return "default"
}

// defaultGCPercent is the manager's garbage collector target. Nearly all
// of its live heap is the informer cache (every IngresseEvent, and every
// ConfigMap without its data), which lives as long as the process; with Go's
// default of 100 the heap grows to twice that before each collection. 50
// cuts that headroom in half (measured by make bench: about 11 instead of
// 15.7 KiB of RSS per stored event) for a few percent more CPU in the
// manager, which is not the bottleneck: the API server is.
const defaultGCPercent = 50

// gogcSet reports whether the GOGC environment variable sets the
// collector's target: "off" or a number. The runtime ignores anything else,
// and so does the manager.
func gogcSet() bool {
	v := os.Getenv("GOGC")
	if v == "off" {
		return true
	}
	_, err := strconv.Atoi(v)
	return err == nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseFlags reads the manager's flags from args into a config.
func parseFlags(fs *flag.FlagSet, args []string) (*config, error) {
	c := &config{}
	c.receiver.Default()
	r := &c.receiver

	fs.StringVar(&c.namespace, "namespace", defaultNamespace(),
		"Namespace the receiver writes IngresseEvents to and the controller watches. In a pod it defaults to the pod's own namespace; outside a cluster to \"default\".")
	fs.BoolVar(&c.leaderElect, "leader-elect", false,
		"Elect a leader among controller replicas; only the leader reconciles. The receiver serves on every replica either way.")
	fs.StringVar(&c.leaderElectionID, "leader-election-id", "ingresse-operator.events.ingresse.com",
		"Name of the Lease used for leader election.")
	fs.StringVar(&c.leaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease (default: --namespace).")
	fs.DurationVar(&c.leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long a replica waits, after the leader last renewed the Lease, before taking over: the longest a killed leader leaves reconciling undone.")
	fs.DurationVar(&c.renewDeadline, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew the Lease before it gives up leading (and exits); must be shorter than the lease duration.")
	fs.DurationVar(&c.retryPeriod, "leader-election-retry-period", 2*time.Second,
		"How often replicas try to acquire or renew the Lease.")
	fs.StringVar(&c.metricsAddr, "metrics-bind-address", ":8443",
		"Address the Prometheus metrics endpoint (/metrics) binds to; \"0\" disables it.")
	fs.BoolVar(&c.metricsSecure, "metrics-secure", true,
		"Serve metrics over HTTPS to clients the Kubernetes API authenticates (TokenReview) and authorizes (SubjectAccessReview: get on the /metrics URL, e.g. the metrics-reader ClusterRole). --metrics-secure=false serves plain, unauthenticated HTTP, for local runs.")
	fs.StringVar(&c.metricsCertDir, "metrics-cert-path", "",
		"Directory holding tls.crt and tls.key for the HTTPS metrics endpoint (a mounted cert-manager Secret), re-read when they change; empty uses a self-signed certificate generated at start.")
	fs.BoolVar(&c.enableHTTP2, "enable-http2", false,
		"Allow HTTP/2 on the HTTPS metrics endpoint. Off by default: HTTP/1.1 is all a scraper needs, and HTTP/2's stream handling has had denial-of-service flaws (CVE-2023-44487).")
	fs.StringVar(&c.probeAddr, "health-probe-bind-address", ":8081",
		"Address the liveness (/healthz) and readiness (/readyz) probes bind to.")
	fs.StringVar(&c.pprofAddr, "pprof-bind-address", "",
		"Address Go's profiler (/debug/pprof/) binds to, for profiling a running manager; empty (the default) disables it. Never expose it outside the pod.")
	fs.BoolVar(&c.enableReceiver, "enable-receiver", true,
		"Run the webhook receiver (on every replica).")
	fs.BoolVar(&c.enableController, "enable-controller", true,
		"Run the IngresseEvent controller (on the leader when --leader-elect).")
	fs.IntVar(&c.maxConcurrentReconciles, "max-concurrent-reconciles", 4,
		"How many IngresseEvents the controller reconciles at once.")
	fs.DurationVar(&c.cacheSyncTimeout, "cache-sync-timeout", 10*time.Minute,
		"How long the controller waits for its caches (every IngresseEvent and ConfigMap of the namespace) to fill at start before it gives up and the manager exits. controller-runtime's 2 minutes is not enough for 100k stored events (make bench-scale).")
	fs.IntVar(&c.watchedMaxEvents, "controller-watched-max-events", 10000,
		"How many events not yet reconciled the controller keeps whole, as the watch decoded them, to reconcile without reading their spec again; past it (or --controller-watched-max-bytes) a reconcile reads the spec from the API server. 0 keeps none. Empty once every event has converged.")
	fs.Int64Var(&c.watchedMaxBytes, "controller-watched-max-bytes", 64<<20,
		"Bound on the estimated memory of the events --controller-watched-max-events keeps. 0 keeps none.")
	fs.Float64Var(&c.kubeAPIQPS, "kube-api-qps", -1,
		"Client-side limit on requests per second to the Kubernetes API; negative disables it and relies on the API server's Priority and Fairness.")
	fs.IntVar(&c.kubeAPIBurst, "kube-api-burst", 0,
		"Burst above --kube-api-qps allowed to the Kubernetes API (used only when --kube-api-qps is positive).")
	fs.IntVar(&c.gcPercent, "gc-percent", defaultGCPercent,
		"Go garbage collector target (as GOGC): the heap may grow this many percent above what is live before a collection. The heap is mostly the long-lived informer cache, so Go's 100 would double it. 0 leaves the runtime's setting (GOGC, else 100); a GOGC environment variable wins over the default, not over the flag.")
	fs.DurationVar(&c.gracefulShutdownTimeout, "graceful-shutdown-timeout", 0,
		"Bound on the whole shutdown (default: receiver shutdown delay + timeout + 5s). Keep the pod's terminationGracePeriodSeconds above it.")

	fs.StringVar(&r.BindAddress, "receiver-bind-address", r.BindAddress,
		"Address the webhook receiver (POST /webhooks/ingresse) binds to.")
	fs.StringVar(&r.TokenFile, "receiver-token-file", "",
		"File of accepted tokens, one per line (a mounted Secret); re-read when it changes.")
	fs.BoolVar(&r.InsecureSkipAuth, "receiver-insecure-skip-auth", false,
		"INSECURE: accept deliveries without any credential while no token and no signing secret is loaded. For local experiments only.")
	fs.StringVar(&r.SigningSecretFile, "receiver-signing-secret-file", "",
		"Optional file of Standard Webhooks signing secrets (whsec_...), one per line, for senders that can sign.")
	cidrs := prefixList{target: &r.AllowedCIDRs}
	fs.Var(&cidrs, "receiver-allowed-cidrs",
		"Comma-separated source CIDRs allowed to deliver (default: any).")
	proxies := prefixList{target: &r.TrustedProxies}
	fs.Var(&proxies, "receiver-trusted-proxies",
		"Comma-separated CIDRs of the proxies whose X-Forwarded-For is believed for --receiver-allowed-cidrs: your Ingress controller's pods, and nothing else. Any client connecting from a trusted address can claim any source, so trust only addresses nothing but the Ingress controller connects from, and keep the NetworkPolicy that lets only its namespace reach the receiver.")
	fs.Int64Var(&r.MaxBodyBytes, "receiver-max-body-bytes", r.MaxBodyBytes,
		"Largest accepted request body; larger deliveries get 413.")
	fs.IntVar(&r.MaxInFlight, "receiver-max-in-flight", r.MaxInFlight,
		"Most requests handled at once; beyond it deliveries get 503 with Retry-After.")
	fs.Int64Var(&r.MaxInFlightBytes, "receiver-max-in-flight-bytes", r.MaxInFlightBytes,
		"Most bytes of request bodies handled at once (each delivery reserves its Content-Length, or --receiver-max-body-bytes when it sends none, and once read its bytes plus 128 per JSON token, until it is answered); beyond it deliveries get 503 with Retry-After. Each byte in flight costs several bytes of memory (docs/receiver.md): this is what keeps large deliveries under the memory limit. At least --receiver-max-body-bytes.")
	fs.DurationVar(&r.RequestTimeout, "receiver-request-timeout", r.RequestTimeout,
		"Deadline for the Kubernetes API work of one delivery; past it the answer is 503 with Retry-After.")
	fs.DurationVar(&r.ShutdownDelay, "receiver-shutdown-delay", r.ShutdownDelay,
		"On shutdown, how long readiness is false before the receiver stops accepting connections (lets the Service drop the pod).")
	fs.DurationVar(&r.ShutdownTimeout, "receiver-shutdown-timeout", r.ShutdownTimeout,
		"On shutdown, how long in-flight deliveries may take to finish.")
	fs.DurationVar(&r.TokenReloadInterval, "receiver-token-reload-interval", r.TokenReloadInterval,
		"How often the token and signing secret files are checked for changes.")
	fs.DurationVar(&r.ReadHeaderTimeout, "receiver-read-header-timeout", r.ReadHeaderTimeout,
		"How long a client may take to send the request headers (slowloris bound).")
	fs.DurationVar(&r.ReadTimeout, "receiver-read-timeout", r.ReadTimeout,
		"How long a client may take to send the whole request.")
	fs.DurationVar(&r.WriteTimeout, "receiver-write-timeout", r.WriteTimeout,
		"Bound on handling a request and writing the answer; must exceed --receiver-request-timeout.")
	fs.DurationVar(&r.IdleTimeout, "receiver-idle-timeout", r.IdleTimeout,
		"How long an idle keep-alive connection stays open.")
	fs.IntVar(&r.MaxHeaderBytes, "receiver-max-header-bytes", r.MaxHeaderBytes,
		"Largest accepted request header block.")
	fs.Float64Var(&r.EventsPerSecond, "receiver-events-per-second", r.EventsPerSecond,
		"Most Kubernetes Events (Created, Updated, StaleDelivery) the receiver records per second, with a burst of ten seconds' worth; beyond it they are skipped and counted. 0 records none.")
	fs.DurationVar(&r.MaxClockSkew, "receiver-max-clock-skew", r.MaxClockSkew,
		"How far ahead of this clock an event's data.updatedAt may be. A delivery (or a copy from Ingresse's API) dated further ahead is refused with 422, and a stored version dated further ahead counts as the oldest, so any valid version replaces it: a far-future date cannot freeze an event.")

	ing := &c.ingresse
	ing.Default()
	fs.StringVar(&ing.CredentialsFile, "ingresse-api-credentials-file", "",
		"File of Ingresse API credentials (a mounted Secret: apikey=..., usertoken=..., jwt=... lines; see docs/ingresse-api.md), re-read when it changes. The company listing needs the apikey; the producer listing and --receiver-verify-with-api a jwt or usertoken+apikey (which get a JWT): the manager refuses to start without what it is configured for, and keeps the last good file when a changed one lacks it. Empty: the manager never calls Ingresse's API (no resync, no verified mode).")
	fs.StringVar(&ing.APIURL, "ingresse-api-url", ing.APIURL,
		"Base URL of Ingresse's v1 API (JWT renewal). Homologation: https://hmla-api.ingresse.com.")
	fs.StringVar(&ing.EventURL, "ingresse-event-url", ing.EventURL,
		"Base URL of Ingresse's event service (one event; a producer's listing). Homologation: https://hmla-event.ingresse.com.")
	fs.StringVar(&ing.SearchURL, "ingresse-event-search-url", ing.SearchURL,
		"Base URL of Ingresse's event search (a company's published events). Homologation: https://hmla-event-search.ingresse.com.")
	fs.Int64Var(&ing.CompanyID, "ingresse-company-id", 0,
		"Sweep the published events of this Ingresse company (its listing needs only an apikey).")
	fs.Int64Var(&ing.ProducerID, "ingresse-producer-id", 0,
		"Sweep the events of this producer (the listing of the user whose jwt, or usertoken+apikey, is in the credentials file).")
	fs.StringVar(&c.listQuery, "ingresse-api-list-query", "",
		"Extra query parameters for every listing request, URL-encoded (e.g. \"from=now-5y\"), to adapt to Ingresse's API without a new release.")
	fs.IntVar(&ing.PageSize, "ingresse-api-page-size", ing.PageSize,
		"Events per page of Ingresse's listing.")
	fs.Float64Var(&ing.QPS, "ingresse-api-qps", ing.QPS,
		"Most requests per second to Ingresse's API, for the sweep and verified deliveries together (per process).")
	fs.DurationVar(&ing.Timeout, "ingresse-api-timeout", ing.Timeout,
		"Deadline of one request to Ingresse's API; failed requests are retried with backoff, honouring Retry-After.")
	fs.DurationVar(&c.resyncInterval, "ingresse-resync-interval", time.Hour,
		"With credentials, the controller's leader sweeps Ingresse's listing at start and then this long after each sweep ends, storing every event it reads (backfill and repair); 0 turns sweeps off.")
	fs.BoolVar(&c.verifyWithAPI, "receiver-verify-with-api", false,
		"Read every event delivery back from Ingresse's API and store the API's copy; a delivery the API does not confirm (or when it is unreachable) is answered 503 and not stored. Needs --ingresse-api-credentials-file with a jwt or usertoken+apikey; the receiver is not ready while its JWT is past its expiry and nothing renews it.")

	fs.DurationVar(&c.retention.After, "retention-after", 0,
		"Delete IngresseEvents whose every session started, and whose stored version has not changed, longer ago than this (e.g. 2160h for 90 days); the controller's leader does it, at a bounded rate, with an Event each. 0 (the default) keeps everything. Needs the Role in config/components/retention.")
	fs.BoolVar(&c.retention.DryRun, "retention-dry-run", false,
		"With --retention-after, only report (log and metric) what would be deleted.")
	fs.DurationVar(&c.retention.Interval, "retention-interval", time.Hour,
		"Time between the end of a retention sweep and the start of the next.")
	fs.Float64Var(&c.retention.DeletesPerSecond, "retention-deletes-per-second", 1,
		"Most events a retention sweep reads and deletes per second.")

	c.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if gogcSet() && !flagSet(fs, "gc-percent") {
		c.gcPercent = 0 // GOGC, set on purpose, already applies
	}
	return c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	if c.namespace == "" {
		errs = append(errs, errors.New("--namespace must not be empty"))
	}
	if !c.enableReceiver && !c.enableController {
		errs = append(errs, errors.New("--enable-receiver and --enable-controller are both false: nothing to run"))
	}
	if c.gcPercent < 0 {
		errs = append(errs, fmt.Errorf("--gc-percent must not be negative (0 leaves the runtime's setting), got %d", c.gcPercent))
	}
	if c.cacheSyncTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--cache-sync-timeout must be positive, got %s", c.cacheSyncTimeout))
	}
	if c.watchedMaxEvents < 0 || c.watchedMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("--controller-watched-max-events and --controller-watched-max-bytes must not be negative, got %d and %d", c.watchedMaxEvents, c.watchedMaxBytes))
	}
	if c.maxConcurrentReconciles < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", c.maxConcurrentReconciles))
	}
	if c.enableReceiver && c.receiver.TokenFile == "" && c.receiver.SigningSecretFile == "" && !c.receiver.InsecureSkipAuth {
		errs = append(errs, errors.New("the receiver needs --receiver-token-file or --receiver-signing-secret-file (or --receiver-insecure-skip-auth to accept anyone, for local experiments only)"))
	}
	// client-go refuses these at start-up with a less helpful message.
	if c.leaseDuration <= c.renewDeadline {
		errs = append(errs, fmt.Errorf("--leader-election-lease-duration (%s) must be longer than --leader-election-renew-deadline (%s)", c.leaseDuration, c.renewDeadline))
	}
	if c.retryPeriod <= 0 || float64(c.renewDeadline) <= leaderelection.JitterFactor*float64(c.retryPeriod) {
		errs = append(errs, fmt.Errorf("--leader-election-renew-deadline (%s) must be longer than %v times a positive --leader-election-retry-period (%s)", c.renewDeadline, leaderelection.JitterFactor, c.retryPeriod))
	}
	errs = append(errs, c.validateIngresse()...)
	if c.retention.After < 0 || c.retention.Interval <= 0 || c.retention.DeletesPerSecond <= 0 {
		errs = append(errs, errors.New("--retention-after must not be negative, --retention-interval and --retention-deletes-per-second must be positive"))
	}
	if c.retention.After > 0 && !c.enableController {
		errs = append(errs, errors.New("--retention-after runs on the controller's leader: it needs --enable-controller"))
	}
	if c.leaderElectionNamespace == "" {
		c.leaderElectionNamespace = c.namespace
	}
	c.receiver.Namespace = c.namespace
	if c.gracefulShutdownTimeout == 0 {
		c.gracefulShutdownTimeout = c.receiver.ShutdownDelay + c.receiver.ShutdownTimeout + 5*time.Second
	}
	return errors.Join(errs...)
}

// validateIngresse checks the flags of Ingresse's API and what uses it.
func (c *config) validateIngresse() []error {
	var errs []error
	if c.verifyWithAPI && !c.useIngresseAPI() {
		errs = append(errs, errors.New("--receiver-verify-with-api needs --ingresse-api-credentials-file"))
	}
	if c.ingresse.CompanyID < 0 || c.ingresse.ProducerID < 0 {
		errs = append(errs, errors.New("--ingresse-company-id and --ingresse-producer-id must not be negative"))
	}
	if c.ingresse.CompanyID > 0 && c.ingresse.ProducerID > 0 {
		errs = append(errs, errors.New("--ingresse-company-id and --ingresse-producer-id are both set: a sweep reads one listing"))
	}
	if c.runResync() && c.ingresse.CompanyID == 0 && c.ingresse.ProducerID == 0 {
		errs = append(errs, errors.New("the resync sweep needs --ingresse-company-id or --ingresse-producer-id (or --ingresse-resync-interval=0 for none)"))
	}
	if c.resyncInterval < 0 {
		errs = append(errs, fmt.Errorf("--ingresse-resync-interval must not be negative, got %s", c.resyncInterval))
	}
	if c.ingresse.PageSize < 1 || c.ingresse.QPS <= 0 || c.ingresse.Timeout <= 0 {
		errs = append(errs, errors.New("--ingresse-api-page-size, --ingresse-api-qps and --ingresse-api-timeout must be positive"))
	}
	if c.listQuery != "" {
		q, err := url.ParseQuery(c.listQuery)
		if err != nil {
			errs = append(errs, fmt.Errorf("--ingresse-api-list-query is not a URL query: %w", err))
		}
		c.ingresse.ListQuery = q
	}
	return errs
}

// prefixList is a flag.Value of comma-separated CIDRs.
type prefixList struct {
	target *[]netip.Prefix
}

func (p *prefixList) String() string {
	if p.target == nil {
		return ""
	}
	parts := make([]string, 0, len(*p.target))
	for _, prefix := range *p.target {
		parts = append(parts, prefix.String())
	}
	return strings.Join(parts, ",")
}

func (p *prefixList) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(part)
		if err != nil {
			addr, addrErr := netip.ParseAddr(part)
			if addrErr != nil {
				return fmt.Errorf("%q is not a CIDR or an IP address", part)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		*p.target = append(*p.target, prefix.Masked())
	}
	return nil
}
