package ingresseapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingresse-operator/ingresse-operator/internal/promreg"
)

// Endpoints label the metrics and name the call in an *Error.
const (
	EndpointEvent = "event"
	EndpointList  = "list"
	EndpointRenew = "renew"
)

// Retry reasons label ingresse_api_retries_total.
const (
	reasonTooManyRequests = "429"
	reasonServerError     = "5xx"
	reasonNetwork         = "network"
	reasonMalformed       = "malformed"
	reasonTokenRenewed    = "token_renewed"
)

// codeError labels a request that got no HTTP answer.
const codeError = "error"

var (
	endpoints    = []string{EndpointEvent, EndpointList, EndpointRenew}
	codeClasses  = []string{"2xx", "3xx", "4xx", "5xx", "429", codeError}
	retryReasons = []string{reasonTooManyRequests, reasonServerError, reasonNetwork, reasonMalformed, reasonTokenRenewed}
)

// metrics are the client's Prometheus metrics. Every label value comes from
// a closed set, never from an answer.
type metrics struct {
	requests          *prometheus.CounterVec
	duration          *prometheus.HistogramVec
	retries           *prometheus.CounterVec
	reloadSuccessful  prometheus.Gauge
	credentialsLoaded prometheus.Gauge
	// usable has one gauge per use the client is configured for.
	usable []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_api_requests_total",
			Help: "HTTP requests to Ingresse's API by endpoint (event, list, renew) and answer: 2xx, 3xx, 4xx, 429, 5xx, or error when no answer came.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ingresse_api_request_duration_seconds",
			Help:    "Time from sending one HTTP request to Ingresse's API to reading its whole answer, by endpoint; waits for the rate limit and between attempts are not included.",
			Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_api_retries_total",
			Help: "Requests to Ingresse's API sent again, by endpoint and reason: 429, 5xx, network, malformed (an answer that is not JSON), token_renewed (after a new JWT was got).",
		}, []string{"endpoint", "reason"}),
		reloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingresse_api_credentials_last_reload_successful",
			Help: "1 when the last read of the Ingresse credentials file succeeded, 0 when it failed and the last good credentials stay in use.",
		}),
		credentialsLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingresse_api_credentials_loaded_timestamp_seconds",
			Help: "When the Ingresse credentials in use were read from their file (Unix time): their age is time() minus this.",
		}),
	}
	// Every series exists from the start, at zero, so that rate() and
	// alerts see the first increase.
	for _, ep := range endpoints {
		m.duration.WithLabelValues(ep)
		for _, c := range codeClasses {
			m.requests.WithLabelValues(ep, c)
		}
		for _, r := range retryReasons {
			m.retries.WithLabelValues(ep, r)
		}
	}
	return m
}

// register adds the metrics to reg. A nil reg keeps them unregistered.
func (m *metrics) register(reg prometheus.Registerer) error {
	return promreg.Register(reg, "the Ingresse API client's", append([]prometheus.Collector{m.requests, m.duration, m.retries, m.reloadSuccessful, m.credentialsLoaded}, m.usable...)...)
}

func (m *metrics) reloadResult(ok bool) {
	if ok {
		m.reloadSuccessful.Set(1)
	} else {
		m.reloadSuccessful.Set(0)
	}
}

// codeClass is the code label of an HTTP status; 0 is no answer.
func codeClass(status int) string {
	switch {
	case status == 0:
		return codeError
	case status == http.StatusTooManyRequests:
		return "429"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	default:
		return "5xx"
	}
}
