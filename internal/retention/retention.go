// Package retention bounds what the operator stores: with --retention-after
// set, the controller's leader deletes the IngresseEvents whose every
// session started longer ago than that and whose stored version has not
// changed for that long, at a bounded rate, each with a Kubernetes Event
// and a metric. A dry run only reports.
//
// A deletion never races a delivery: each is a delete with the
// resourceVersion the decision was made on as a precondition, so an event
// a delivery (or a resync sweep) wrote since is refused by the API server
// and kept. A delivery that arrives after the deletion creates the event
// anew; one for an event that is being deleted but held by a finalizer is
// answered 503 with Retry-After by the receiver until it is gone.
package retention

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// Deleting events is a right of its own: config/components/retention binds
// it to the controller only where retention is turned on.
// +kubebuilder:rbac:groups=events.ingresse.com,namespace=ingresse-system,resources=ingresseevents,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="";events.k8s.io,namespace=ingresse-system,resources=events,verbs=create;patch

// FieldOwner names the retention sweep in its Events.
const FieldOwner = "ingresse-retention"

// Options configure a Reaper.
type Options struct {
	Namespace string
	// After is how long every session must have started ago, and the
	// stored version been unchanged, before an event is deleted.
	After time.Duration
	// Interval between the end of a sweep and the start of the next.
	Interval time.Duration
	// DeletesPerSecond bounds the deletions (and the reads that decide
	// them).
	DeletesPerSecond float64
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
}

// Report is what one retention sweep found and did.
type Report struct {
	// Candidates passed the cached pre-filter and were read.
	Candidates int
	// Expired are the events that met the rule: deleted, or only
	// reported in a dry run.
	Expired, Deleted int
	// Kept are candidates the rule kept once their spec was read; Changed
	// those written between the decision and the delete.
	Kept, Changed int
}

// Reaper is a controller-runtime Runnable that deletes expired events.
type Reaper struct {
	opts      Options
	client    client.Client
	apiReader client.Reader
	recorder  recorder.EventRecorder
	limiter   *rate.Limiter
	metrics   *metrics
	log       logr.Logger
	now       func() time.Time
	// beforeDelete, when set, runs between the decision and the delete
	// (tests write the event there).
	beforeDelete func(name string)
}

// New builds a Reaper. c lists IngresseEvents (the manager's cache, which
// holds them without their spec) and deletes them; apiReader reads the
// candidates' specs from the API server; rec may be nil.
func New(opts Options, c client.Client, apiReader client.Reader, rec recorder.EventRecorder, reg prometheus.Registerer, log logr.Logger) (*Reaper, error) {
	if opts.Namespace == "" || c == nil || apiReader == nil {
		return nil, errors.New("retention needs a namespace, a client and an API reader")
	}
	if opts.After <= 0 || opts.Interval <= 0 || opts.DeletesPerSecond <= 0 {
		return nil, fmt.Errorf("retention needs a positive age, interval and deletion rate, got %s, %s, %g", opts.After, opts.Interval, opts.DeletesPerSecond)
	}
	m := newMetrics()
	if err := m.register(reg); err != nil {
		return nil, err
	}
	return &Reaper{
		opts: opts, client: c, apiReader: apiReader, recorder: rec, metrics: m, log: log, now: time.Now,
		limiter: rate.NewLimiter(rate.Limit(opts.DeletesPerSecond), int(math.Max(1, math.Ceil(opts.DeletesPerSecond)))),
	}, nil
}

// NeedLeaderElection runs retention on the leader only.
func (r *Reaper) NeedLeaderElection() bool { return true }

// Start sweeps now, then an interval after each sweep ends, until ctx is
// done (the manager stops, or lost its leadership: not a failure).
func (r *Reaper) Start(ctx context.Context) error {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if _, err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Error(err, "Retention sweep failed; the next one tries again")
		}
	}, r.opts.Interval) // sliding: from each sweep's end
	return nil
}

// Sweep deletes (or, in a dry run, reports) every expired event once.
func (r *Reaper) Sweep(ctx context.Context) (Report, error) {
	var rep Report
	list := &eventsv1alpha1.IngresseEventList{}
	if err := r.client.List(ctx, list, client.InNamespace(r.opts.Namespace)); err != nil {
		return rep, fmt.Errorf("listing IngresseEvents in %s: %w", r.opts.Namespace, err)
	}
	now := r.now()
	cutoff := now.Add(-r.opts.After)
	for i := range list.Items {
		cached := &list.Items[i]
		if !candidate(cached, cutoff) {
			continue
		}
		if err := r.limiter.Wait(ctx); err != nil {
			return rep, err
		}
		rep.Candidates++
		if err := r.judge(ctx, client.ObjectKeyFromObject(cached), cutoff, &rep); err != nil {
			return rep, err
		}
	}
	r.metrics.sweeps.Inc()
	r.metrics.expired.Set(float64(rep.Expired))
	r.log.Info("Retention sweep complete", "after", r.opts.After.String(), "dryRun", r.opts.DryRun,
		"candidates", rep.Candidates, "expired", rep.Expired, "deleted", rep.Deleted, "kept", rep.Kept, "changed", rep.Changed)
	return rep, nil
}

// judge reads one candidate from the API server and deletes it if it is
// expired, on the condition that it has not changed since.
func (r *Reaper) judge(ctx context.Context, key client.ObjectKey, cutoff time.Time, rep *Report) error {
	ev := &eventsv1alpha1.IngresseEvent{}
	if err := r.apiReader.Get(ctx, key, ev); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading IngresseEvent %s: %w", key, err)
	}
	lastStart, ok := Expired(ev, cutoff)
	if !ok {
		rep.Kept++
		return nil
	}
	rep.Expired++
	if r.opts.DryRun {
		r.metrics.outcomes.WithLabelValues("would_delete").Inc()
		r.log.Info("Retention dry run: would delete an expired event", "name", key.Name, "lastSessionStart", lastStart, "after", r.opts.After.String())
		return nil
	}
	if r.beforeDelete != nil {
		r.beforeDelete(key.Name)
	}
	err := r.client.Delete(ctx, ev, client.Preconditions{UID: &ev.UID, ResourceVersion: &ev.ResourceVersion},
		client.PropagationPolicy(metav1.DeletePropagationBackground))
	switch {
	case err == nil:
		rep.Deleted++
		r.metrics.outcomes.WithLabelValues("deleted").Inc()
		r.log.Info("Deleted an expired event", "name", key.Name, "lastSessionStart", lastStart, "after", r.opts.After.String())
		if r.recorder != nil {
			r.recorder.Eventf(ev, nil, corev1.EventTypeNormal, "Expired", "Delete",
				"Deleted by --retention-after=%s: every session started by %s and the stored version was unchanged since %s",
				r.opts.After, lastStart, ev.Annotations[eventsv1alpha1.AnnotationReceivedAt])
		}
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		// Written (or deleted) since it was read: a delivery won.
		rep.Changed++
		r.metrics.outcomes.WithLabelValues("changed").Inc()
	default:
		return fmt.Errorf("deleting IngresseEvent %s: %w", key, err)
	}
	return nil
}

// candidate is the pre-filter on the cached copy (which has no spec): the
// stored version is older than cutoff, and the controller has seen no
// session to come.
func candidate(ev *eventsv1alpha1.IngresseEvent, cutoff time.Time) bool {
	if !ev.DeletionTimestamp.IsZero() || ev.Status.NextSession != nil {
		return false
	}
	received, err := eventsv1alpha1.ParseTime(ev.Annotations[eventsv1alpha1.AnnotationReceivedAt])
	return err == nil && received.Before(cutoff)
}

// Expired reports whether ev may be deleted at cutoff (now minus
// --retention-after), and when its last session started: its stored
// version was received before cutoff, and it has at least one session
// that is not cancelled, all of which started before cutoff. A session
// whose dateTime is not a time keeps the event: nothing is deleted on a
// guess.
func Expired(ev *eventsv1alpha1.IngresseEvent, cutoff time.Time) (lastStart string, expired bool) {
	received, err := eventsv1alpha1.ParseTime(ev.Annotations[eventsv1alpha1.AnnotationReceivedAt])
	if err != nil || !received.Before(cutoff) {
		return "", false
	}
	var last time.Time
	for _, s := range ev.Spec.Sessions {
		if s.Status != nil && (strings.EqualFold(*s.Status, "cancelled") || strings.EqualFold(*s.Status, "canceled")) {
			continue
		}
		if s.DateTime == nil {
			return "", false
		}
		start, err := eventsv1alpha1.ParseTime(*s.DateTime)
		if err != nil || !start.Before(cutoff) {
			return "", false
		}
		if start.After(last) {
			last = start
		}
	}
	if last.IsZero() {
		return "", false
	}
	return last.UTC().Format(time.RFC3339), true
}
