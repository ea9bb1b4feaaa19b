package resync

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingresse-operator/ingresse-operator/internal/promreg"
)

// metrics are the sweep's progress, as Prometheus metrics. Label values
// come from closed sets.
type metrics struct {
	sweeps       *prometheus.CounterVec
	pages        prometheus.Counter
	events       *prometheus.CounterVec
	retries      *prometheus.CounterVec
	running      prometheus.Gauge
	lastComplete prometheus.Gauge
	lastDuration prometheus.Gauge
	absent       prometheus.Gauge
	skipped      *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_resync_sweeps_total",
			Help: "Sweeps of Ingresse's listing, by result: complete, incomplete (a page kept failing: nothing was marked absent), or interrupted (the manager stopped or lost its leadership, or marking failed).",
		}, []string{"result"}),
		pages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ingresse_resync_pages_total",
			Help: "Pages of Ingresse's listing read by sweeps.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_resync_events_total",
			Help: "Events read by sweeps, by outcome: created, updated, confirmed (equal spec, now marked as confirmed), unchanged, stale (a newer version is stored), repaired (the stored version was dated beyond the clock skew and the API's copy replaced it) or invalid (not stored).",
		}, []string{"outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_resync_retries_total",
			Help: "Pages and writes a sweep retried after they failed, by what failed (page or write).",
		}, []string{"what"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingresse_resync_sweep_running",
			Help: "1 while a sweep runs on this replica.",
		}),
		lastComplete: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingresse_resync_last_complete_timestamp_seconds",
			Help: "When the last complete sweep ended (Unix time); every event it listed was confirmed at or before it, except those it skipped (ingresse_resync_skipped_total). 0 until the first.",
		}),
		lastDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingresse_resync_last_sweep_duration_seconds",
			Help: "How long the last complete sweep took, retries included.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_resync_skipped_total",
			Help: "Listed events a sweep could not store after its retries and skipped, for the next sweep to try again, by reason: being_deleted (held by a finalizer), quota, forbidden, timeout or unavailable.",
		}, []string{"reason"}),
		absent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingresse_resync_events_absent",
			Help: "Stored events in the sweep's scope that the last complete sweep's listing did not return (InSource=False).",
		}),
	}
	// Every series exists from the start, at 0: rate() and dashboards
	// need no first occurrence.
	for _, result := range []string{"complete", "incomplete", "interrupted"} {
		m.sweeps.WithLabelValues(result)
	}
	for _, outcome := range []string{"created", "updated", "confirmed", "unchanged", "stale", "repaired", "invalid"} {
		m.events.WithLabelValues(outcome)
	}
	for _, what := range []string{"page", "write"} {
		m.retries.WithLabelValues(what)
	}
	for _, reason := range skipReasons {
		m.skipped.WithLabelValues(reason)
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	return promreg.Register(reg, "the resync sweep's", m.sweeps, m.pages, m.events, m.retries, m.running, m.lastComplete, m.lastDuration, m.absent, m.skipped)
}
