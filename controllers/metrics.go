package controllers

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
)

// Where a reconcile found the spec of an event the cache holds without it.
const (
	specFromWatch     = "watch"
	specFromAPIServer = "api_server"
)

// specReads counts where each reconcile found its event's spec: kept from
// the watch (eventcache.Watched) or read from the API server.
var specReads = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "ingresse_controller_spec_reads_total",
	Help: "Reconciles by where the event's spec came from: watch (the object the watch decoded, kept until it is reconciled) or api_server (a read, when it was not kept).",
}, []string{"from"})

func init() {
	ctrlmetrics.Registry.MustRegister(specReads)
}

// statusMissing labels events the controller has not given a condition
// of that type yet.
const statusMissing = "Missing"

// EventsCollector exports, at each scrape, how many stored IngresseEvents
// have each condition in each status, counted from the manager's cache:
// ingresse_events{condition="Ready",status="False"} and so on. Every
// controller replica reports what its cache holds, so aggregate with max,
// not sum.
type EventsCollector struct {
	reader client.Reader
	desc   *prometheus.Desc
}

// NewEventsCollector counts the events reader (the manager's cache) holds.
func NewEventsCollector(reader client.Reader) *EventsCollector {
	return &EventsCollector{reader: reader, desc: prometheus.NewDesc("ingresse_events",
		"Stored IngresseEvents by condition type and status (True, False, Unknown, or Missing before the first reconcile), from the controller's cache; aggregate replicas with max.",
		[]string{"condition", "status"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *EventsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. A cache that cannot be read in
// time (not synced yet) yields no sample rather than a wrong zero.
func (c *EventsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list := &eventsv1alpha1.IngresseEventList{}
	// The cache's own objects, not copies: they are only read.
	if err := c.reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	counts := map[[2]string]int{}
	for _, typ := range conditionOrder {
		for _, status := range []string{"True", "False", "Unknown", statusMissing} {
			counts[[2]string{typ, status}] = 0
		}
	}
	memo := map[string][]metav1.Condition{}
	for i := range list.Items {
		conds := eventcache.Conditions(&list.Items[i], memo)
		for _, typ := range conditionOrder {
			status := statusMissing
			for _, cond := range conds {
				if cond.Type == typ {
					status = string(cond.Status)
				}
			}
			counts[[2]string{typ, status}]++
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
