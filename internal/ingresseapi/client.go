package ingresseapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Defaults of Options.
const (
	DefaultAPIURL         = "https://api.ingresse.com"
	DefaultEventURL       = "https://event.ingresse.com"
	DefaultSearchURL      = "https://event-search.ingresse.com"
	DefaultReloadInterval = 10 * time.Second
	DefaultPageSize       = 100
	DefaultQPS            = 5
	DefaultTimeout        = 10 * time.Second
	DefaultMaxAttempts    = 5
	DefaultMaxBackoff     = 30 * time.Second
	DefaultUserAgent      = "ingresse-operator"
)

const (
	// firstBackoff is the cap of the first wait between attempts; each
	// next one doubles, up to MaxBackoff.
	firstBackoff = 500 * time.Millisecond
	// maxBody bounds an answer: a page of 100 events is a few hundred KiB.
	maxBody = 16 << 20
)

// Options configure a Client. The zero value of a field is its default.
type Options struct {
	// CredentialsFile is the path of the credentials file (see
	// ParseCredentials), normally in a mounted Secret. Required.
	CredentialsFile string
	// ReloadInterval is how often the file is read again (default 10s):
	// the first call after it has passed reads it. A changed file replaces
	// the credentials in use, and any renewed JWT; a failed read keeps the
	// last good ones.
	ReloadInterval time.Duration

	// APIURL is the v1 API, for GET {APIURL}/login/renew-token.
	APIURL string
	// EventURL is the event service: GET {EventURL}/{id} and
	// GET {EventURL}/search/producer.
	EventURL string
	// SearchURL is the public event search: GET {SearchURL}/{companyId}.
	SearchURL string

	// CompanyID makes List read a company's published events from
	// {SearchURL}/{CompanyID}, with the apikey when one is set.
	CompanyID int64
	// ProducerID makes List read the producer's events from
	// {EventURL}/search/producer, with the JWT: Ingresse picks the events
	// by the JWT's user, so the id is not sent, and the credentials must be
	// that producer's. At most one of CompanyID and ProducerID is set; with
	// neither, List fails and Event works.
	ProducerID int64
	// ReadEvents says that Event will be called (verified deliveries), so
	// that the credentials are judged for it too. Each use configured
	// (ReadEvents, a ProducerID, a CompanyID) must be served by the
	// credentials file, by the table in uses.go: New fails when it is not,
	// and a reloaded file that is not is refused. Event works without it.
	ReadEvents bool
	// ListQuery holds query parameters added to every listing request
	// (from=now-5y, for one), so that a user can adapt the listing to what
	// Ingresse does without a code change. It may not hold size, offset or
	// a credential.
	ListQuery url.Values
	// PageSize is the number of events a listing page asks for (default
	// 100).
	PageSize int

	// QPS is the rate of HTTP requests, all endpoints together (default 5),
	// with a burst of QPS rounded up.
	QPS float64
	// Timeout bounds one HTTP request, its answer read included (default
	// 10s).
	Timeout time.Duration
	// MaxAttempts is how many requests one call makes at most (default 5):
	// a 429, a 5xx, a network error and an answer that is not JSON are
	// tried again. A retry after a JWT renewal is not counted.
	MaxAttempts int
	// MaxBackoff caps the wait between attempts (default 30s), which
	// starts at up to 500ms, doubles each time, and is drawn at random
	// below that cap. A Retry-After header is waited for instead, up to 5
	// minutes.
	MaxBackoff time.Duration
	// HTTPClient sends the requests; the default is a clone of Go's
	// default transport, without a client timeout (Timeout bounds each
	// request).
	HTTPClient *http.Client
	// UserAgent is sent with every request (default "ingresse-operator").
	UserAgent string
}

// Default fills the fields left at their zero value.
func (o *Options) Default() {
	if o.ReloadInterval == 0 {
		o.ReloadInterval = DefaultReloadInterval
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if o.EventURL == "" {
		o.EventURL = DefaultEventURL
	}
	if o.SearchURL == "" {
		o.SearchURL = DefaultSearchURL
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	if o.QPS == 0 {
		o.QPS = DefaultQPS
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
		// Go's default transport has dial, TLS and idle timeouts; a program
		// may have replaced it with another kind, which is then used as is.
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			t = t.Clone()
			t.MaxIdleConnsPerHost = 4
			o.HTTPClient.Transport = t
		}
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
}

// validate checks the options after Default.
func (o *Options) validate() error {
	var errs []error
	if o.CredentialsFile == "" {
		errs = append(errs, errors.New("no credentials file"))
	}
	if o.CompanyID < 0 || o.ProducerID < 0 {
		errs = append(errs, errors.New("a company or producer id is negative"))
	}
	if o.CompanyID > 0 && o.ProducerID > 0 {
		errs = append(errs, errors.New("both a company id and a producer id are set: the listing is one or the other"))
	}
	for _, v := range []struct {
		name string
		bad  bool
	}{
		{"the reload interval", o.ReloadInterval < 0},
		{"the page size", o.PageSize < 0},
		{"the rate (QPS)", o.QPS < 0 || math.IsNaN(o.QPS) || math.IsInf(o.QPS, 0)},
		{"the timeout", o.Timeout < 0},
		{"the attempts", o.MaxAttempts < 0},
		{"the maximum backoff", o.MaxBackoff < 0},
	} {
		if v.bad {
			errs = append(errs, fmt.Errorf("%s is not a positive number", v.name))
		}
	}
	for k := range o.ListQuery {
		switch strings.ToLower(k) {
		case "apikey", "usertoken", "authorization", "size", "offset":
			errs = append(errs, fmt.Errorf("the listing query sets %q: credentials come from the credentials file, size and offset from the client", k))
		}
	}
	return errors.Join(errs...)
}

// Client reads events from Ingresse's API. It is safe for concurrent use.
type Client struct {
	opts    Options
	log     logr.Logger
	m       *metrics
	limiter *rate.Limiter
	creds   *credentialState
	// renewing holds one token while a JWT is being renewed: concurrent
	// callers whose JWT expired wait for that renewal instead of each
	// getting a new JWT.
	renewing chan struct{}
	now      func() time.Time

	eventURL, renewURL *url.URL
	// listURL is nil when no listing is configured.
	listURL  *url.URL
	listAuth auth
}

// Page is one page of a listing.
type Page struct {
	// Events are the documents, in the shape of a webhook's data.
	Events []json.RawMessage
	// Total is the number of events in the whole listing, as the API
	// counts them: exact, or only a lower bound when TotalIsLowerBound.
	Total int
	// TotalIsLowerBound marks a total Elasticsearch stopped counting at
	// ({"value": 10000, "relation": "gte"}): the listing holds at least
	// Total events, maybe many more.
	TotalIsLowerBound bool
	// Size is how many events the page was asked for: a page with fewer
	// is the listing's last.
	Size int
}

// New reads the credentials file once and registers the client's metrics
// on reg (nil registers none). An unreadable or invalid file is an error:
// a misconfigured install fails at start, not at its first call.
func New(opts Options, reg prometheus.Registerer, log logr.Logger) (*Client, error) {
	opts.Default()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("ingresse API client: %w", err)
	}
	c := &Client{
		opts:     opts,
		log:      log,
		m:        newMetrics(),
		limiter:  rate.NewLimiter(rate.Limit(opts.QPS), max(1, int(math.Ceil(opts.QPS)))),
		renewing: make(chan struct{}, 1),
		now:      time.Now,
	}
	c.opts.ListQuery = cloneValues(opts.ListQuery)
	var err error
	if c.eventURL, err = baseURL("event", opts.EventURL); err != nil {
		return nil, err
	}
	if c.renewURL, err = baseURL("API", opts.APIURL); err != nil {
		return nil, err
	}
	c.renewURL = c.renewURL.JoinPath("login", "renew-token")
	switch {
	case opts.CompanyID > 0:
		search, err := baseURL("search", opts.SearchURL)
		if err != nil {
			return nil, err
		}
		c.listURL, c.listAuth = search.JoinPath(strconv.FormatInt(opts.CompanyID, 10)), authAPIKey
	case opts.ProducerID > 0:
		c.listURL, c.listAuth = c.eventURL.JoinPath("search", "producer"), authBearer
	}

	uses := opts.uses()
	c.creds = newCredentialState(opts.CredentialsFile, opts.ReloadInterval, log, c.m, uses)
	now := c.now()
	if _, err := c.creds.load(now); err != nil {
		return nil, fmt.Errorf("ingresse API client: %w", err)
	}
	c.creds.warnUnrenewable(now)
	for _, u := range uses {
		c.m.usable = append(c.m.usable, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "ingresse_api_credentials_usable",
			Help:        "1 while the Ingresse credentials in use can serve what the client is configured for (use: event, producer_listing, company_listing), 0 once they cannot: the JWT's exp claim passed and no usertoken and apikey renew it.",
			ConstLabels: prometheus.Labels{"use": string(u)},
		}, func() float64 {
			if c.usable(u) != nil {
				return 0
			}
			return 1
		}))
	}
	if err := c.m.register(reg); err != nil {
		return nil, err
	}
	return c, nil
}

// usable judges the credentials and the JWT in use for u, now.
func (c *Client) usable(u use) error {
	creds, jwt, _ := c.creds.snapshot()
	return judge(u, creds, jwt, c.opts.CredentialsFile, c.now())
}

// CanReadEvents reports, without calling the API, why Event cannot
// succeed for want of credentials: the JWT in use is past its exp claim
// and the credentials cannot renew it. It reads the credentials file first
// when a reload is due, so that a caller polling it (the receiver's
// readiness, which gets no deliveries while it fails) sees a rotated
// Secret. nil does not promise that Ingresse accepts the JWT: one without a
// readable exp, or a revoked usertoken, shows only in the calls' errors.
func (c *Client) CanReadEvents() error {
	c.creds.reloadIfDue(c.now())
	return c.usable(useEvent)
}

// baseURL parses an endpoint's base URL, which may have a path but not a
// query, a fragment or userinfo (a credential has no place there).
func baseURL(name, s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		// url.Parse's error quotes the URL, which may hold userinfo.
		return nil, fmt.Errorf("ingresse API client: the %s URL does not parse", name)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("ingresse API client: the %s URL must be http(s)://host[/path], without userinfo, query or fragment", name)
	}
	return u, nil
}

// Event returns event id's document in the shape of a webhook's data,
// from GET {EventURL}/{id} with the JWT. An event that does not exist is
// an *Error for which IsNotFound is true.
func (c *Client) Event(ctx context.Context, id int64) (json.RawMessage, error) {
	if id <= 0 {
		return nil, fmt.Errorf("ingresse API event: id %d is not positive", id)
	}
	var doc json.RawMessage
	err := c.call(ctx, request{
		endpoint: EndpointEvent,
		url:      c.eventURL.JoinPath(strconv.FormatInt(id, 10)),
		auth:     authBearer,
		parse: func(body []byte, m map[string]json.RawMessage) error {
			d, found, err := parseEvent(body, m, id)
			if err == nil && !found {
				return fmt.Errorf("%w: event %d", errNotInAnswer, id)
			}
			doc = d
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// List returns the listing's page that starts at offset, PageSize events
// long: the query is ListQuery with size and offset.
func (c *Client) List(ctx context.Context, offset int) (Page, error) {
	if c.listURL == nil {
		return Page{}, errors.New("ingresse API list: no listing is configured: set a company id or a producer id")
	}
	if offset < 0 {
		return Page{}, fmt.Errorf("ingresse API list: offset %d is negative", offset)
	}
	q := cloneValues(c.opts.ListQuery)
	q.Set("size", strconv.Itoa(c.opts.PageSize))
	q.Set("offset", strconv.Itoa(offset))
	var page Page
	err := c.call(ctx, request{
		endpoint: EndpointList,
		url:      c.listURL,
		query:    q,
		auth:     c.listAuth,
		parse: func(_ []byte, m map[string]json.RawMessage) error {
			var err error
			page, err = parsePage(m)
			return err
		},
	})
	if err != nil {
		return Page{}, err
	}
	page.Size = c.opts.PageSize
	return page, nil
}

// PageSize is the size of the pages List returns.
func (c *Client) PageSize() int { return c.opts.PageSize }

// auth is how a request carries the credentials.
type auth int

const (
	// authBearer sends the JWT, renewing it when it expired.
	authBearer auth = iota
	// authAPIKey sends the apikey as a query parameter, when one is set.
	authAPIKey
	// authRenew sends the apikey and usertoken as query parameters and the
	// JWT being replaced, when there is one.
	authRenew
)

// request is one call to the API.
type request struct {
	endpoint string
	url      *url.URL   // no credential in it
	query    url.Values // no credential in it
	auth     auth
	// parse reads a 2xx answer that is a JSON object and not a v1 error.
	// errMalformed is retried; errShape and errNotInAnswer are not.
	parse func(body []byte, m map[string]json.RawMessage) error
}

// errNotInAnswer is a successful search that does not hold the event.
var errNotInAnswer = errors.New("the answer does not hold the event")

// call makes the request, with retries and at most one JWT renewal. Its
// error is an *Error, or wraps the context's error when ctx ended first.
func (c *Client) call(ctx context.Context, r request) error {
	c.creds.reloadIfDue(c.now())
	renewed := false
	attempts, sent := 0, 0
	for {
		creds, jwt, _ := c.creds.snapshot()
		if r.auth == authBearer && jwt == "" {
			if !creds.canRenew() {
				return &Error{Endpoint: r.endpoint, URL: redactURL(r.url), reason: "no jwt and no usertoken+apikey to get one in the credentials file"}
			}
			if renewed {
				return &Error{Endpoint: r.endpoint, URL: redactURL(r.url), reason: "no JWT after renewing it"}
			}
			renewed = true
			if err := c.renew(ctx, ""); err != nil {
				return err
			}
			continue
		}
		attempts++
		sent++
		e, err := c.attempt(ctx, r, creds, jwt)
		if err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		e.Attempts = sent
		if r.auth == authBearer && e.needsRenewal() {
			if !creds.canRenew() {
				e.reason = fmt.Sprintf("HTTP %d and no usertoken+apikey to renew the JWT", e.StatusCode)
				if e.StatusCode != http.StatusUnauthorized {
					e.reason = fmt.Sprintf("HTTP %d, an expired JWT, and no usertoken+apikey to renew it", e.StatusCode)
				}
				return e
			}
			if renewed {
				return e
			}
			renewed = true
			if err := c.renew(ctx, jwt); err != nil {
				return err
			}
			// The request is sent again at once, without counting against
			// MaxAttempts: it failed for the JWT, not for the API.
			attempts--
			c.m.retries.WithLabelValues(r.endpoint, reasonTokenRenewed).Inc()
			continue
		}
		if e.retry == "" || attempts >= c.opts.MaxAttempts {
			return e
		}
		wait := e.RetryAfter
		if wait == 0 {
			wait = c.backoff(attempts)
		}
		if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
			// Waiting would outlive the caller: give it the answer now,
			// Retry-After included, to schedule its own retry.
			return e
		}
		c.m.retries.WithLabelValues(r.endpoint, e.retry).Inc()
		c.log.V(1).Info("Retrying a call to Ingresse's API", "endpoint", r.endpoint, "reason", e.retry, "attempt", attempts, "wait", wait)
		if err := sleepCtx(ctx, wait); err != nil {
			return fmt.Errorf("%w while waiting to retry: %w", err, e)
		}
	}
}

// renew gets a new JWT in place of failed (empty when there was none) and
// puts it in use. Callers whose JWT expired together renew once: the others
// wait, then find the JWT in use changed, and use it.
func (c *Client) renew(ctx context.Context, failed string) error {
	select {
	case c.renewing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("ingresse API renew: waiting for another renewal: %w", ctx.Err())
	}
	defer func() { <-c.renewing }()
	creds, jwt, gen := c.creds.snapshot()
	if jwt != failed {
		return nil
	}
	if !creds.canRenew() {
		return &Error{Endpoint: EndpointRenew, URL: redactURL(c.renewURL), reason: "no usertoken+apikey to renew the JWT"}
	}
	var token string
	err := c.call(ctx, request{
		endpoint: EndpointRenew,
		url:      c.renewURL,
		auth:     authRenew,
		parse: func(_ []byte, m map[string]json.RawMessage) error {
			var err error
			token, err = parseRenewal(m)
			return err
		},
	})
	if err != nil {
		return err
	}
	c.creds.setJWT(token, gen)
	c.log.Info("Renewed the Ingresse JWT")
	return nil
}

// attempt sends one request once the rate limit allows it, and reads its
// answer: nil when it succeeded and parse took it, an *Error when it
// failed, or an error when ctx ended.
func (c *Client) attempt(ctx context.Context, r request, creds Credentials, jwt string) (*Error, error) {
	shown := redactURL(r.url)
	if err := c.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ingresse API %s: waiting for the rate limit: %w", r.endpoint, ctx.Err())
		}
		return nil, fmt.Errorf("ingresse API %s: the rate limit (%g requests a second) allows none before the deadline: %w", r.endpoint, c.opts.QPS, context.DeadlineExceeded)
	}

	q := cloneValues(r.query)
	bearer := ""
	switch r.auth {
	case authBearer:
		bearer = jwt
	case authAPIKey:
		if creds.APIKey != "" {
			q.Set("apikey", creds.APIKey)
		}
	case authRenew:
		if creds.APIKey != "" {
			q.Set("apikey", creds.APIKey)
		}
		q.Set("usertoken", creds.UserToken)
		bearer = jwt
	}
	u := *r.url
	u.RawQuery = q.Encode()

	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return &Error{Endpoint: r.endpoint, URL: shown, reason: "building the request", err: stripURL(err, shown)}, nil
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}

	start := time.Now()
	status, header, body, err := c.send(req)
	c.m.duration.WithLabelValues(r.endpoint).Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.requests.WithLabelValues(r.endpoint, codeClass(status)).Inc()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ingresse API %s (GET %s): %w", r.endpoint, shown, ctx.Err())
		}
		if errors.Is(err, errTooLarge) {
			return &Error{Endpoint: r.endpoint, URL: shown, StatusCode: status, reason: fmt.Sprintf("HTTP %d with an answer over %d MiB", status, maxBody>>20)}, nil
		}
		return &Error{Endpoint: r.endpoint, URL: shown, StatusCode: status, reason: "no answer", retry: reasonNetwork, err: stripURL(err, shown)}, nil
	}
	c.m.requests.WithLabelValues(r.endpoint, codeClass(status)).Inc()
	if status < 200 || status > 299 {
		e := statusError(r.endpoint, shown, status, header, body, c.now())
		e.Message = creds.redact(e.Message, jwt)
		return e, nil
	}

	m, v1, err := members(body)
	if err == nil && v1 != nil {
		return &Error{
			Endpoint: r.endpoint, URL: shown, StatusCode: status,
			Code: v1.code, Message: creds.redact(v1.message, jwt),
			reason: fmt.Sprintf("HTTP %d with a v1 error", status),
		}, nil
	}
	if err == nil {
		err = r.parse(body, m)
	}
	switch {
	case err == nil:
		return nil, nil
	case errors.Is(err, errMalformed):
		return &Error{Endpoint: r.endpoint, URL: shown, StatusCode: status, reason: fmt.Sprintf("HTTP %d with an answer that is not JSON", status), retry: reasonMalformed, err: err}, nil
	case errors.Is(err, errNotInAnswer):
		return &Error{Endpoint: r.endpoint, URL: shown, StatusCode: status, reason: err.Error(), notFound: true}, nil
	default:
		return &Error{Endpoint: r.endpoint, URL: shown, StatusCode: status, reason: fmt.Sprintf("HTTP %d", status), err: err}, nil
	}
}

// errTooLarge is an answer over maxBody.
var errTooLarge = errors.New("answer too large")

// send does req and reads the whole answer, up to maxBody. status is 0
// when no answer came.
func (c *Client) send(req *http.Request) (status int, header http.Header, body []byte, err error) {
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		// The answer was cut: a network error, retried.
		return 0, nil, nil, err
	}
	if len(body) > maxBody {
		return resp.StatusCode, resp.Header, nil, errTooLarge
	}
	return resp.StatusCode, resp.Header, body, nil
}

// sleepCtx waits for d, or until ctx is done (then its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the wait before attempt n+1: drawn at random up to a cap that
// starts at firstBackoff and doubles each attempt, up to MaxBackoff ("full
// jitter": retries from many callers spread out instead of arriving
// together; apimachinery's Backoff, whose jitter only adds to each wait,
// cannot draw it). A Retry-After the API sends replaces it.
func (c *Client) backoff(n int) time.Duration {
	ceiling := firstBackoff
	for i := 1; i < n && ceiling < c.opts.MaxBackoff; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.opts.MaxBackoff)
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
