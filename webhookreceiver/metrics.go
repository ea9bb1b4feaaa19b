package webhookreceiver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingresse-operator/ingresse-operator/internal/promreg"
)

// metrics are the receiver's Prometheus metrics. Every label value comes
// from a closed set (webhook types, outcomes, credential kinds), never from
// the request.
type metrics struct {
	requests          *prometheus.CounterVec
	duration          *prometheus.HistogramVec
	inFlight          prometheus.Gauge
	inFlightBytes     prometheus.GaugeFunc
	writeConflicts    prometheus.Counter
	credentialReloads *prometheus.CounterVec
	// credentials, credentialsLoaded and credentialsReadable describe the
	// token and signing secret files, by kind.
	credentials         *prometheus.GaugeVec
	credentialsLoaded   *prometheus.GaugeVec
	credentialsReadable *prometheus.GaugeVec
	eventsSkipped       prometheus.Counter
	// verifications counts the read-backs of --receiver-verify-with-api.
	verifications *prometheus.CounterVec
	// lastDelivery is when an event delivery was last answered 2xx: no
	// per-event label, so that its cardinality stays one.
	lastDelivery prometheus.Gauge
}

func newMetrics(budget *bodyBudget) *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_receiver_requests_total",
			Help: "Webhook requests by webhook type (a documented type, unknown, or none when answered before the type was read) and outcome.",
		}, []string{"webhook", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ingresse_receiver_request_duration_seconds",
			Help:    "Time from a webhook request's arrival to its answer, by outcome.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingresse_receiver_in_flight_requests",
			Help: "Webhook requests being handled now (bounded by --receiver-max-in-flight).",
		}),
		inFlightBytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ingresse_receiver_in_flight_bytes",
			Help: "Bytes of request bodies reserved by the requests being handled now (bounded by --receiver-max-in-flight-bytes).",
		}, func() float64 { return float64(budget.inUse()) }),
		writeConflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ingresse_receiver_write_conflicts_total",
			Help: "Writes of an IngresseEvent that lost a race with another writer and were retried.",
		}),
		credentialReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_receiver_credential_reloads_total",
			Help: "Re-reads of the token and signing secret files that changed the credentials in use (result=changed) or failed and kept the last good set (result=error).",
		}, []string{"kind", "result"}),
		credentials: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ingresse_receiver_credentials",
			Help: "Tokens and signing secrets in use, by kind; 0 refuses every delivery that kind would authenticate.",
		}, []string{"kind"}),
		credentialsLoaded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ingresse_receiver_credentials_loaded_timestamp_seconds",
			Help: "When the credentials in use were read from their file (Unix time), by kind: their age is time() minus this.",
		}, []string{"kind"}),
		credentialsReadable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ingresse_receiver_credentials_last_reload_successful",
			Help: "1 when the last read of the credential file succeeded, 0 when it failed and the last good set stays in use, by kind.",
		}, []string{"kind"}),
		eventsSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ingresse_receiver_events_skipped_total",
			Help: "Kubernetes Events not recorded because deliveries came faster than --receiver-events-per-second.",
		}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_receiver_verifications_total",
			Help: "Deliveries read back from Ingresse's API (--receiver-verify-with-api), by result: confirmed, newer_in_api (the API's newer copy was stored), older_in_api, not_found, unavailable (503, nothing stored) or invalid (502).",
		}, []string{"result"}),
		lastDelivery: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingresse_receiver_last_delivery_timestamp_seconds",
			Help: "When the receiver last answered a delivery 2xx (Unix time), whatever the outcome: stored, duplicate, stale or an ignored webhook type; time() minus its largest value across replicas is how long Ingresse has been silent. 0 until the first.",
		}),
	}
}

// delivered records that a delivery was answered 2xx at t.
func (m *metrics) delivered(t time.Time) {
	m.lastDelivery.Set(float64(t.UnixNano()) / 1e9)
}

// register adds the metrics to reg. A nil reg keeps them unregistered.
func (m *metrics) register(reg prometheus.Registerer) error {
	return promreg.Register(reg, "the receiver's", m.requests, m.duration, m.inFlight, m.inFlightBytes, m.writeConflicts, m.credentialReloads, m.credentials, m.credentialsLoaded, m.credentialsReadable, m.eventsSkipped, m.verifications, m.lastDelivery)
}
