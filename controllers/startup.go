package controllers

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
)

// The startup metrics say when the controller has reconciled, once, every
// event stored when it started (or took the lead): after a restart, that
// is when its view of the namespace is whole again.
var (
	startupPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ingresse_controller_startup_pending_events",
		Help: "Events stored when the controller started leading that it has not reconciled once yet; 0 once it has reconciled them all.",
	})
	startupSeconds = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ingresse_controller_startup_reconcile_seconds",
		Help: "How long the controller took, from the start of its leadership, to reconcile once every event stored then; 0 until it has.",
	})
	registerStartupMetrics sync.Once
)

// startup tracks the events stored when the controller started that it
// has not reconciled yet. Reconciles that come before the list are
// remembered in seen, so that none is missed.
type startup struct {
	mu      sync.Mutex
	began   time.Time
	total   int
	listed  bool
	done    bool
	seen    map[types.NamespacedName]struct{}
	pending map[types.NamespacedName]struct{}
	log     logr.Logger
	// release runs once, when every event stored at the start has been
	// reconciled (debug.FreeOSMemory in the manager).
	release func()
}

// reconciled records that key was reconciled without error.
func (s *startup) reconciled(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.done:
	case !s.listed:
		if s.seen == nil {
			s.seen = map[types.NamespacedName]struct{}{}
		}
		s.seen[key] = struct{}{}
	default:
		delete(s.pending, key)
		startupPending.Set(float64(len(s.pending)))
		s.finishIfDone()
	}
}

// listedEvents takes the keys of the events stored at the start.
func (s *startup) listedEvents(keys []types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = make(map[types.NamespacedName]struct{}, len(keys))
	for _, k := range keys {
		if _, ok := s.seen[k]; !ok {
			s.pending[k] = struct{}{}
		}
	}
	s.seen, s.listed, s.total = nil, true, len(keys)
	startupPending.Set(float64(len(s.pending)))
	s.log.Info("Reconciling every stored event once since start", "events", len(keys), "pending", len(s.pending))
	s.finishIfDone()
}

// finishIfDone logs and records the end of the startup once nothing is
// pending. s.mu must be held.
func (s *startup) finishIfDone() {
	if len(s.pending) > 0 || s.done {
		return
	}
	s.done, s.pending = true, nil
	took := time.Since(s.began)
	startupSeconds.Set(took.Seconds())
	s.log.Info("Reconciled every stored event once since start", "events", s.total, "seconds", took.Seconds())
	if s.release != nil {
		go s.release()
	}
}

// startupRunnable lists the stored events once the cache has synced, on the
// leader (the only replica that reconciles).
type startupRunnable struct {
	s     *startup
	cache interface {
		WaitForCacheSync(ctx context.Context) bool
	}
	reader client.Reader
	// watched is resumed once the events stored at the start are listed
	// (SetupWithManager pauses it): only what the watch delivers after
	// them is kept, so that the start's peak does not grow by it.
	watched *eventcache.Watched
}

func (r startupRunnable) NeedLeaderElection() bool { return true }

func (r startupRunnable) Start(ctx context.Context) error {
	r.s.mu.Lock()
	r.s.began = time.Now()
	r.s.mu.Unlock()
	if !r.cache.WaitForCacheSync(ctx) {
		return nil // stopping
	}
	list := &eventsv1alpha1.IngresseEventList{}
	// The cache's own objects, not copies: only their keys are read.
	err := r.reader.List(ctx, list, client.UnsafeDisableDeepCopy)
	r.watched.Resume() // the informer has synced: the start's list is behind it
	if err != nil {
		r.s.log.Error(err, "Listing the stored events to track the first reconcile of each; the startup metrics stay unset")
		return nil
	}
	keys := make([]types.NamespacedName, 0, len(list.Items))
	for i := range list.Items {
		keys = append(keys, client.ObjectKeyFromObject(&list.Items[i]))
	}
	r.s.listedEvents(keys)
	return nil
}

// addStartup registers the startup tracking with mgr.
func (r *IngresseEventReconciler) addStartup(mgr manager.Manager) error {
	registerStartupMetrics.Do(func() {
		ctrlmetrics.Registry.MustRegister(startupPending, startupSeconds)
	})
	// The start decodes every stored event and ConfigMap once, whole: at
	// 100k that is gigabytes of garbage, and the Go runtime hands the
	// memory it grew for them back to the system only slowly. Once every
	// event has been reconciled, the cache is all that stays: hand the
	// rest back at once, so that the process's RSS is its steady state.
	r.startup = &startup{log: mgr.GetLogger().WithName("controller").WithValues("controller", "ingresseevent"), release: debug.FreeOSMemory}
	r.Watched.Pause()
	return mgr.Add(startupRunnable{s: r.startup, cache: mgr.GetCache(), reader: mgr.GetCache(), watched: r.Watched})
}
