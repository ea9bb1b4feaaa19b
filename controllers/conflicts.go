package controllers

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// conflictsBeforeFailure is how many reconciles in a row of one event must
// meet a write conflict (see configMapResult.conflicted) before it is
// reported as ConfigMapApplyFailed, with a Warning Event. A conflict means
// the write was computed from a ConfigMap that has changed since; the watch
// event of that change queues the event again, and the next reconcile,
// working from what the cache now shows, normally succeeds. The first
// retries come within milliseconds (the workqueue's backoff starts at
// 5ms), possibly before that watch event: two of them cover a cache a
// moment behind. A third conflict in a row means the ConfigMap keeps
// changing under the controller, which a person should hear about.
const conflictsBeforeFailure = 3

// conflictStreaks counts, per IngresseEvent, the reconciles in a row whose
// ConfigMap write met a conflict. An entry lives only while a streak
// lasts: any other outcome ends it, and so does the event being gone or
// deleted. Every event in a streak is queued again, so its entry is soon
// dropped or counted on; there is at most one small entry per event.
// The zero value is ready to use.
type conflictStreaks struct {
	mu sync.Mutex
	n  map[types.NamespacedName]int
}

// tolerate notes the outcome of a reconcile of key and reports whether it
// is a write conflict to retry without a word: not yet the
// conflictsBeforeFailure-th in a row.
func (c *conflictStreaks) tolerate(key types.NamespacedName, cm configMapResult) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cm.state != configMapFailed || !cm.conflicted {
		delete(c.n, key)
		return false
	}
	if c.n == nil {
		c.n = map[types.NamespacedName]int{}
	}
	n := min(c.n[key]+1, conflictsBeforeFailure)
	c.n[key] = n
	return n < conflictsBeforeFailure
}

// forget drops the count of an event that is gone.
func (c *conflictStreaks) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.n, key)
}

// retryConflict is the result of a reconcile whose write conflict is
// tolerated: no status write, no Event, a retry with the workqueue's
// backoff.
func retryConflict(ctx context.Context, cm configMapResult) ctrl.Result {
	ctrl.LoggerFrom(ctx).V(1).Info("ConfigMap changed while being written, retrying", "configMap", cm.name, "error", errText(cm.err))
	// Not an error, which controller-runtime logs as a failure; not
	// RequeueAfter, which would reset the backoff a lasting conflict
	// must climb. Requeue's deprecation is about waiting for something
	// else to happen; this is a retry after an error, what the workqueue's
	// rate limiter is for.
	return ctrl.Result{Requeue: true} //nolint:staticcheck // see above
}
