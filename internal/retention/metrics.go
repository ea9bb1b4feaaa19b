package retention

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingresse-operator/ingresse-operator/internal/promreg"
)

type metrics struct {
	sweeps   prometheus.Counter
	outcomes *prometheus.CounterVec
	expired  prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		sweeps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ingresse_retention_sweeps_total",
			Help: "Complete retention sweeps (--retention-after).",
		}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingresse_retention_events_total",
			Help: "Expired events, by outcome: deleted, would_delete (--retention-dry-run), or changed (written between the decision and the delete, and kept).",
		}, []string{"outcome"}),
		expired: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingresse_retention_expired_events",
			Help: "Events the last retention sweep found expired (deleted, or only reported in a dry run).",
		}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	return promreg.Register(reg, "retention's", m.sweeps, m.outcomes, m.expired)
}
