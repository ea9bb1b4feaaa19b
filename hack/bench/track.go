package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/controllers"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// tracker watches the manager's namespace and notes the instant each event
// converges on the version it is expected to show:
//   - the IngresseEvent is Ready=True, and status.observedGeneration and
//     Ready's observedGeneration equal metadata.generation;
//   - its ConfigMap exists, its data hashes to its content-hash annotation
//     and to status.configMapRef.contentHash;
//   - the ConfigMap's EVENT_TITLE is the newest title sent.
type tracker struct {
	mu     sync.Mutex
	events map[string]*eventState
	// ieSeen counts IngresseEvents present in the cache.
	ieSeen int
	// readyOnly trackers (startSelected) watch only the selected
	// IngresseEvents, and no ConfigMap: an event has converged when it is
	// Ready at its generation, with a configMapRef, and shows the title.
	readyOnly bool
}

type eventState struct {
	wantTitle   string
	postedAt    time.Time
	convergedAt time.Time

	ie     *ieView
	cm     *cmView
	stored bool
}

type ieView struct {
	title                                           string
	generation, observedGeneration, readyGeneration int64
	ready                                           bool
	refHash                                         string
}

type cmView struct {
	title, annotatedHash, dataHash string
}

func newTracker() *tracker {
	return &tracker{events: map[string]*eventState{}}
}

// start runs an informer cache over namespace and feeds the tracker.
func (t *tracker) start(ctx context.Context, cfg *rest.Config, namespace string) error {
	return t.run(ctx, cfg, namespace, cache.Config{}, true)
}

// startSelected runs an informer over the IngresseEvents of namespace that
// match selector only, in ready-only mode: for a namespace holding far more
// events than the ones the bench sends.
func (t *tracker) startSelected(ctx context.Context, cfg *rest.Config, namespace string, selector labels.Selector) error {
	t.readyOnly = true
	return t.run(ctx, cfg, namespace, cache.Config{LabelSelector: selector}, false)
}

// run starts the informers of the IngresseEvents (and, withConfigMaps,
// ConfigMaps) of namespace, as nsConfig selects them, feeding the tracker.
func (t *tracker) run(ctx context.Context, cfg *rest.Config, namespace string, nsConfig cache.Config, withConfigMaps bool) error {
	c, err := cache.New(cfg, cache.Options{
		Scheme:            testenv.Scheme,
		DefaultNamespaces: map[string]cache.Config{namespace: nsConfig},
		DefaultTransform:  cache.TransformStripManagedFields(),
	})
	if err != nil {
		return err
	}
	ieInformer, err := c.GetInformer(ctx, &eventsv1alpha1.IngresseEvent{})
	if err != nil {
		return err
	}
	if _, err := ieInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.onEvent(obj, true) },
		UpdateFunc: func(_, obj any) { t.onEvent(obj, false) },
		DeleteFunc: func(obj any) { t.onEventDeleted(obj) },
	}); err != nil {
		return err
	}
	if withConfigMaps {
		cmInformer, err := c.GetInformer(ctx, &corev1.ConfigMap{})
		if err != nil {
			return err
		}
		if _, err := cmInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    t.onConfigMap,
			UpdateFunc: func(_, obj any) { t.onConfigMap(obj) },
		}); err != nil {
			return err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("the tracker's cache did not sync")
	}
	return nil
}

func (t *tracker) state(name string) *eventState {
	s := t.events[name]
	if s == nil {
		s = &eventState{}
		t.events[name] = s
	}
	return s
}

func (t *tracker) onEvent(obj any, added bool) {
	ev, ok := obj.(*eventsv1alpha1.IngresseEvent)
	if !ok {
		return
	}
	v := &ieView{generation: ev.Generation, observedGeneration: ev.Status.ObservedGeneration}
	if ev.Spec.Title != nil {
		v.title = *ev.Spec.Title
	}
	if c := meta.FindStatusCondition(ev.Status.Conditions, eventsv1alpha1.ConditionReady); c != nil {
		v.ready = c.Status == metav1.ConditionTrue
		v.readyGeneration = c.ObservedGeneration
	}
	if ev.Status.ConfigMapRef != nil {
		v.refHash = ev.Status.ConfigMapRef.ContentHash
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.state(ev.Name)
	if added && !s.stored {
		t.ieSeen++
	}
	s.stored = true
	s.ie = v
	t.check(s)
}

func (t *tracker) onEventDeleted(obj any) {
	ev, ok := obj.(*eventsv1alpha1.IngresseEvent)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.events[ev.Name]; s != nil && s.stored {
		s.stored = false
		t.ieSeen--
	}
}

func (t *tracker) onConfigMap(obj any) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return
	}
	v := &cmView{title: cm.Data["EVENT_TITLE"], annotatedHash: cm.Annotations[eventsv1alpha1.AnnotationContentHash]}
	// The controller's own cache transform hashes the data the way the
	// controller does; it works on a shallow copy so the cached object is
	// left alone.
	cp := *cm
	if out, err := controllers.ConfigMapCacheTransform(&cp); err == nil {
		v.dataHash = out.(*corev1.ConfigMap).Annotations[controllers.AnnotationObservedDataHash]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.state(cm.Name)
	s.cm = v
	t.check(s)
}

func (t *tracker) check(s *eventState) {
	if t.readyOnly {
		if ie := s.ie; s.wantTitle != "" && s.convergedAt.IsZero() && ie != nil && ie.title == s.wantTitle && ie.ready &&
			ie.observedGeneration == ie.generation && ie.readyGeneration == ie.generation && ie.refHash != "" {
			s.convergedAt = time.Now()
		}
		return
	}
	if s.wantTitle == "" || !s.convergedAt.IsZero() || s.ie == nil || s.cm == nil {
		return
	}
	ie, cm := s.ie, s.cm
	if ie.ready && ie.observedGeneration == ie.generation && ie.readyGeneration == ie.generation &&
		ie.refHash != "" && ie.refHash == cm.annotatedHash && cm.dataHash == cm.annotatedHash &&
		cm.title == s.wantTitle {
		s.convergedAt = time.Now()
	}
}

// expect says that event name must converge on title, posted at postedAt.
func (t *tracker) expect(name, title string, postedAt time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.state(name)
	s.wantTitle, s.postedAt, s.convergedAt = title, postedAt, time.Time{}
	t.check(s)
}

// convergence is how a set of events converged.
type convergence struct {
	converged int
	missing   []string
	latencies []time.Duration // postedAt -> convergedAt
	last      time.Time       // when the last one converged
}

// wait waits until every named event converged, timeout passes or ctx
// ends.
func (t *tracker) wait(ctx context.Context, names []string, timeout time.Duration) convergence {
	deadline := time.Now().Add(timeout)
	for {
		c := t.collect(names)
		if len(c.missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (t *tracker) collect(names []string) convergence {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := convergence{latencies: make([]time.Duration, 0, len(names))}
	for _, name := range names {
		s := t.events[name]
		if s == nil || s.convergedAt.IsZero() {
			c.missing = append(c.missing, name)
			continue
		}
		c.converged++
		c.latencies = append(c.latencies, s.convergedAt.Sub(s.postedAt))
		if s.convergedAt.After(c.last) {
			c.last = s.convergedAt
		}
	}
	return c
}

// describe says why an event has not converged, for the report.
func (t *tracker) describe(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.events[name]
	if s == nil {
		return name + ": never seen"
	}
	return fmt.Sprintf("%s: want title %q; IngresseEvent %+v; ConfigMap %+v", name, s.wantTitle, s.ie, s.cm)
}

// stored is how many IngresseEvents the namespace holds.
func (t *tracker) stored() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ieSeen
}
