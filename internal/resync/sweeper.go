// Package resync makes Ingresse's API the source of truth: a sweep reads
// every event of a company's or a producer's listing, page by page, and
// stores each through the same ordering as a webhook delivery (newest
// updatedAt wins, an equal spec is no write, never a regression), marked as
// confirmed by the source. The first sweep backfills a new install; later
// ones repair what a lost webhook left wrong, and mark the events the
// listing no longer returns (InSource=False), never deleting them.
//
// The Sweeper runs on the elected leader only, at start and then every
// interval. A page or a write that fails is retried with backoff where it
// failed, never from the first page, a bounded number of times: a page
// that still fails ends the sweep as incomplete (nothing is marked absent),
// and a write that still fails is counted by reason and skipped, to be
// tried again by the next sweep, so that one event that cannot be stored
// (held in deletion by a finalizer, refused by a quota) never wedges the
// others.
//
// Only a short or empty page ends the listing. Its total is never trusted
// to: past its tracking limit Elasticsearch reports a lower bound
// ({"value": 10000, "relation": "gte"}), and a total that ended the
// listing early would leave every event past it unread and marked absent.
package resync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
)

// A sweep stores events (create, update) and marks those the listing
// missed (patch); it reads them through the cache. These rights are the
// Role of config/components/ingresse-api, bound to the controller only
// where the sweep is turned on.
// +kubebuilder:rbac:groups=events.ingresse.com,namespace=ingresse-system,resources=ingresseevents,verbs=get;list;watch;create;update;patch

// Lister reads one page of Ingresse's listing. ingresseapi.Client is one.
type Lister interface {
	List(ctx context.Context, offset int) (ingresseapi.Page, error)
}

// Store stores one event document read from the API.
// eventstore.Writer is one.
type Store interface {
	StoreFromAPI(ctx context.Context, doc json.RawMessage, readAt time.Time) (eventstore.Stored, error)
}

// Options configure a Sweeper.
type Options struct {
	// Namespace holds the IngresseEvents.
	Namespace string
	// Interval between the end of a sweep and the start of the next; 0
	// sweeps once, at start.
	Interval time.Duration
	// ScopeLabel and ScopeValue select the stored events the listing
	// covers (events.ingresse.com/company-id=N or producer-id=N): only
	// those are marked when the listing misses them.
	ScopeLabel, ScopeValue string
	// MinBackoff and MaxBackoff bound the wait before retrying a page or a
	// write that failed (after the API client's own retries).
	MinBackoff, MaxBackoff time.Duration
}

// Report is what one sweep did.
type Report struct {
	Pages, Seen                                            int
	Created, Updated, Confirmed, Unchanged, Stale, Invalid int
	// Repaired is how many stored versions dated beyond the clock skew
	// the API's copy replaced.
	Repaired int
	// Skipped is how many listed events could not be stored after
	// maxWriteAttempts, by reason (see skipReason); the next sweep tries
	// them again.
	Skipped map[string]int
	// ListingComplete reports whether the whole listing was read: only
	// then are the events it did not return marked absent.
	ListingComplete bool
	// Absent is how many stored events in scope the listing did not
	// return; Marked how many of them this sweep marked.
	Absent, Marked int
	// Retries is how many pages and writes were retried after failing.
	Retries  int
	Duration time.Duration
}

// skipped is the total of r.Skipped.
func (r *Report) skipped() int {
	n := 0
	for _, c := range r.Skipped {
		n += c
	}
	return n
}

// Bounds of the retries of one page and of one write within a sweep.
// After maxPageAttempts a page ends the sweep as incomplete; after
// maxWriteAttempts a write is skipped. Once skipOpenAfter writes in a row
// were skipped (a full quota, a forbidden namespace: every write fails
// alike), each next write gets one attempt and no backoff until one is
// stored, so that the sweep still ends in about one request per event.
const (
	maxPageAttempts  = 8
	maxWriteAttempts = 4
	skipOpenAfter    = 8
)

// ErrListingIncomplete ends a sweep whose listing could not be read to its
// end: nothing is marked absent.
var ErrListingIncomplete = errors.New("the listing could not be read to its end")

// Sweeper is a controller-runtime Runnable that sweeps Ingresse's listing.
type Sweeper struct {
	opts    Options
	lister  Lister
	store   Store
	client  client.Client
	log     logr.Logger
	metrics *metrics
	now     func() time.Time
}

// New builds a Sweeper. c reads IngresseEvents (the manager's cached
// client is fine) and patches the ones the listing misses; reg receives the
// metrics (nil: none).
func New(opts Options, lister Lister, store Store, c client.Client, reg prometheus.Registerer, log logr.Logger) (*Sweeper, error) {
	if opts.Namespace == "" || lister == nil || store == nil || c == nil {
		return nil, errors.New("the resync sweeper needs a namespace, a lister, a store and a client")
	}
	if opts.Interval < 0 {
		return nil, fmt.Errorf("the resync interval must not be negative, got %s", opts.Interval)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(opts.MinBackoff, time.Minute)
	}
	m := newMetrics()
	if err := m.register(reg); err != nil {
		return nil, err
	}
	return &Sweeper{opts: opts, lister: lister, store: store, client: c, log: log, metrics: m, now: time.Now}, nil
}

// NeedLeaderElection makes the sweep run on the leader only: one sweep at a
// time, however many replicas run.
func (s *Sweeper) NeedLeaderElection() bool { return true }

// Start sweeps now, then an interval after each sweep ends, until ctx is
// done (the manager stops, or lost its leadership: not a failure).
func (s *Sweeper) Start(ctx context.Context) error {
	if s.opts.Interval == 0 {
		s.sweepAndLog(ctx)
		return nil
	}
	wait.UntilWithContext(ctx, s.sweepAndLog, s.opts.Interval) // sliding: from each sweep's end
	return nil
}

// sweepAndLog sweeps once and logs how a sweep failed, unless ctx ended
// it.
func (s *Sweeper) sweepAndLog(ctx context.Context) {
	if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
		s.log.Error(err, "Resync sweep stopped")
	}
}

// Sweep reads the whole listing once and stores every event in it, then
// marks the stored events in scope that it did not return. A page or a
// write that fails is retried, with backoff, from where it failed, a
// bounded number of times (see maxPageAttempts, maxWriteAttempts). A sweep
// that could not read the whole listing marks nothing and returns an
// error wrapping ErrListingIncomplete; ctx ending it returns ctx's error.
// Events skipped because they could not be stored were listed: they are
// not absent, and a sweep that skipped some still marks the others, since
// its listing was whole.
func (s *Sweeper) Sweep(ctx context.Context) (Report, error) {
	start := s.now()
	r := Report{Skipped: map[string]int{}}
	seen := map[string]bool{}
	s.log.Info("Resync sweep started", "scope", s.scope())
	s.metrics.running.Set(1)
	defer s.metrics.running.Set(0)

	if err := s.readListing(ctx, seen, &r); err != nil {
		result := "interrupted"
		if errors.Is(err, ErrListingIncomplete) {
			result = "incomplete"
		}
		s.metrics.sweeps.WithLabelValues(result).Inc()
		return r, err
	}
	if err := s.markAbsent(ctx, seen, start, &r); err != nil {
		s.metrics.sweeps.WithLabelValues("interrupted").Inc()
		return r, err
	}
	r.Duration = s.now().Sub(start)
	s.metrics.sweeps.WithLabelValues("complete").Inc()
	s.metrics.lastComplete.Set(float64(s.now().UnixNano()) / 1e9)
	s.metrics.lastDuration.Set(r.Duration.Seconds())
	s.metrics.absent.Set(float64(r.Absent))
	s.log.Info("Resync sweep complete", "scope", s.scope(), "duration", r.Duration.Round(time.Millisecond).String(),
		"pages", r.Pages, "seen", r.Seen, "created", r.Created, "updated", r.Updated, "confirmed", r.Confirmed,
		"unchanged", r.Unchanged, "stale", r.Stale, "repaired", r.Repaired, "invalid", r.Invalid,
		"skipped", r.skipped(), "skippedBy", r.Skipped, "absent", r.Absent, "retries", r.Retries)
	return r, nil
}

// readListing reads the listing page by page, storing each event, until a
// page ends it (listingEnds). It returns an error wrapping
// ErrListingIncomplete when a page could not be read, or when the listing
// ended short of an exact total it gave (events were missed, so none may
// be judged absent); ctx's error when ctx ends first.
func (s *Sweeper) readListing(ctx context.Context, seen map[string]bool, r *Report) error {
	failing := 0 // writes skipped in a row
	for offset := 0; ; {
		page, err := s.page(ctx, offset, r)
		if err != nil {
			return err
		}
		r.Pages++
		s.metrics.pages.Inc()
		readAt := s.now()
		for _, doc := range page.Events {
			if err := s.storeOne(ctx, doc, readAt, seen, &failing, r); err != nil {
				return err
			}
		}
		offset += len(page.Events)
		if listingEnds(page) {
			if !page.TotalIsLowerBound && offset < page.Total {
				return fmt.Errorf("%w: it ended at %d events, short of the %d it counts", ErrListingIncomplete, offset, page.Total)
			}
			r.ListingComplete = true
			return nil
		}
		if r.Pages%progressEvery == 0 {
			s.log.Info("Resync sweep progress", "scope", s.scope(), "pages", r.Pages, "offset", offset, "total", page.Total,
				"totalIsLowerBound", page.TotalIsLowerBound, "created", r.Created, "updated", r.Updated,
				"confirmed", r.Confirmed, "unchanged", r.Unchanged, "skipped", r.skipped(), "retries", r.Retries)
		}
	}
}

// listingEnds reports whether page is the listing's last: it is empty, or
// shorter than it was asked to be. Never its total alone: a lower bound
// ends nothing, and an exact total that lies low must not either (the one
// empty page it costs when the listing fills its last page is the price).
func listingEnds(page ingresseapi.Page) bool {
	return len(page.Events) == 0 || (page.Size > 0 && len(page.Events) < page.Size)
}

// page reads the page at offset, retrying with backoff up to
// maxPageAttempts times; then the sweep is incomplete.
func (s *Sweeper) page(ctx context.Context, offset int, r *Report) (ingresseapi.Page, error) {
	var page ingresseapi.Page
	attempt := 0
	err := s.backoff().Until(ctx, true, false, func(ctx context.Context) (bool, error) {
		var err error
		if page, err = s.lister.List(ctx, offset); err == nil {
			return true, nil
		}
		attempt++
		switch {
		case ctx.Err() != nil:
			return false, ctx.Err()
		case attempt >= maxPageAttempts:
			return false, fmt.Errorf("%w: the page at offset %d failed %d times: %w", ErrListingIncomplete, offset, attempt, err)
		}
		r.Retries++
		s.metrics.retries.WithLabelValues("page").Inc()
		s.log.Error(err, "Reading a page of Ingresse's listing failed; retrying it", "offset", offset, "attempt", attempt)
		return false, nil
	})
	return page, err
}

// storeOne stores one document, retrying a failed write with backoff up
// to maxWriteAttempts times (once, without waiting, while the last
// skipOpenAfter writes were all skipped); then it is counted by reason and
// skipped, for the next sweep to try again. A document that cannot be
// stored as it is, is counted and skipped at once. Either way it was
// listed, so it is seen: not absent from the source. failing counts the
// writes skipped in a row.
func (s *Sweeper) storeOne(ctx context.Context, doc json.RawMessage, readAt time.Time, seen map[string]bool, failing *int, r *Report) error {
	id, hasID := documentID(doc)
	if hasID {
		seen[eventsv1alpha1.ResourceName(id)] = true
	}
	attempts := maxWriteAttempts
	if *failing >= skipOpenAfter {
		attempts = 1
	}
	attempt := 0
	return s.backoff().Until(ctx, true, false, func(ctx context.Context) (bool, error) {
		stored, err := s.store.StoreFromAPI(ctx, doc, readAt)
		attempt++
		switch {
		case errors.Is(err, eventstore.ErrInvalidEvent):
			r.Invalid++
			s.metrics.events.WithLabelValues("invalid").Inc()
			s.log.Info("Skipped an event Ingresse's listing returned that cannot be stored", "reason", err.Error())
			return true, nil
		case err == nil:
			*failing = 0
			r.Seen++
			seen[stored.Name] = true
			s.count(stored.Outcome, r)
			return true, nil
		case ctx.Err() != nil:
			return false, ctx.Err()
		case attempt >= attempts:
			*failing++
			reason := skipReason(err)
			r.Skipped[reason]++
			s.metrics.skipped.WithLabelValues(reason).Inc()
			s.log.Error(err, "Skipped an event that could not be stored; the next sweep tries it again",
				"name", stored.Name, "reason", reason, "attempts", attempt)
			return true, nil
		}
		r.Retries++
		s.metrics.retries.WithLabelValues("write").Inc()
		s.log.Error(err, "Storing an event from Ingresse's listing failed; retrying it", "name", stored.Name, "attempt", attempt)
		return false, nil
	})
}

// Reasons a write is skipped, the label of ingresse_resync_skipped_total.
const (
	skipBeingDeleted = "being_deleted" // held in deletion by a finalizer
	skipQuota        = "quota"         // refused by a ResourceQuota
	skipForbidden    = "forbidden"     // refused by RBAC or an admission policy
	skipTimeout      = "timeout"       // the API server did not answer in time
	skipUnavailable  = "unavailable"   // anything else: down, throttling, conflicts
)

var skipReasons = []string{skipBeingDeleted, skipQuota, skipForbidden, skipTimeout, skipUnavailable}

// skipReason is why a write failed, as a bounded label.
func skipReason(err error) string {
	switch {
	case errors.Is(err, eventstore.ErrBeingDeleted):
		return skipBeingDeleted
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota"):
		return skipQuota
	case apierrors.IsForbidden(err):
		return skipForbidden
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return skipTimeout
	default:
		return skipUnavailable
	}
}

// documentID is a listed document's id, when it has a positive integer one.
func documentID(doc json.RawMessage) (int64, bool) {
	var ev struct {
		ID int64 `json:"id"`
	}
	err := json.Unmarshal(doc, &ev)
	return ev.ID, err == nil && ev.ID > 0
}

// count adds an outcome to the report and the metrics.
func (s *Sweeper) count(outcome string, r *Report) {
	switch outcome {
	case eventstore.OutcomeCreated:
		r.Created++
	case eventstore.OutcomeUpdated:
		r.Updated++
	case eventstore.OutcomeConfirmed:
		r.Confirmed++
	case eventstore.OutcomeUnchanged:
		r.Unchanged++
	case eventstore.OutcomeStale:
		r.Stale++
	case eventstore.OutcomeRepaired:
		r.Repaired++
	}
	s.metrics.events.WithLabelValues(outcome).Inc()
}

// markAbsent marks the stored events in scope that the sweep did not see
// (InSource=False), once: an event already marked is not written again.
// Nothing is deleted. A mark that conflicts with another write is left to
// the next sweep.
func (s *Sweeper) markAbsent(ctx context.Context, seen map[string]bool, started time.Time, r *Report) error {
	opts := []client.ListOption{client.InNamespace(s.opts.Namespace)}
	if s.opts.ScopeLabel != "" {
		opts = append(opts, client.MatchingLabels{s.opts.ScopeLabel: s.opts.ScopeValue})
	}
	list := &eventsv1alpha1.IngresseEventList{}
	if err := s.client.List(ctx, list, opts...); err != nil {
		return fmt.Errorf("listing the stored IngresseEvents in %s: %w", s.opts.Namespace, err)
	}
	at := s.now().UTC().Format(time.RFC3339)
	for i := range list.Items {
		ev := &list.Items[i]
		_, marked := ev.Annotations[eventsv1alpha1.AnnotationAbsentSince]
		switch {
		case !ev.DeletionTimestamp.IsZero():
			continue
		case seen[ev.Name] && marked:
			// Listed again, but not written (a newer webhook copy is
			// stored): the mark goes.
		case seen[ev.Name], ev.CreationTimestamp.After(started):
			// Listed; or created while the listing was read, after its
			// place in it.
			continue
		default:
			r.Absent++
			if marked {
				continue
			}
		}
		patch := client.MergeFromWithOptions(ev.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if ev.Annotations == nil {
			ev.Annotations = map[string]string{}
		}
		if marked {
			delete(ev.Annotations, eventsv1alpha1.AnnotationAbsentSince)
		} else {
			ev.Annotations[eventsv1alpha1.AnnotationAbsentSince] = at
		}
		err := s.client.Patch(ctx, ev, patch, client.FieldOwner(FieldOwner))
		switch {
		case err == nil && !marked:
			r.Marked++
		case err == nil:
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			// Written or deleted since the cache saw it: the next sweep
			// judges it again.
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			return fmt.Errorf("marking IngresseEvent %s/%s as absent from Ingresse's listing: %w", ev.Namespace, ev.Name, err)
		}
	}
	return nil
}

// progressEvery is how many pages a sweep reads between progress log lines.
const progressEvery = 20

// FieldOwner is the field manager of the sweep's own writes (marking an
// event absent); events it stores are written as the receiver writes them.
const FieldOwner = "ingresse-resync"

// backoff is the wait before each retry of one page or one write:
// between half and all of a duration that doubles from MinBackoff up to
// MaxBackoff ("equal jitter", apimachinery's Backoff with a jitter of 1
// from half of each).
func (s *Sweeper) backoff() wait.DelayFunc {
	return wait.Backoff{Duration: s.opts.MinBackoff / 2, Factor: 2, Jitter: 1, Cap: s.opts.MaxBackoff / 2, Steps: math.MaxInt32}.DelayFunc()
}

func (s *Sweeper) scope() string {
	if s.opts.ScopeLabel == "" {
		return "all"
	}
	return s.opts.ScopeLabel + "=" + s.opts.ScopeValue
}
