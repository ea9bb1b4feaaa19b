//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// load posts deliveries through the receiver's Service at a steady rate,
// as Ingresse would, retrying every answer that is not 2xx (and every
// connection error) until it is acknowledged. Delivery i is version
// i/events+1 of event firstID+i%events, so the load creates events and then
// keeps updating them.
type load struct {
	t       *testing.T
	firstID int64
	events  int
	client  *http.Client

	stop chan struct{}
	wg   sync.WaitGroup

	mu         sync.Mutex
	sent       int
	requests   int
	acked      map[int64][]int // event id -> versions answered 2xx
	unacked    int
	connErrors int
	http5xx    int
	lastErr    string
}

// startLoad sends rate deliveries a second until stopAndWait.
func startLoad(t *testing.T, firstID int64, events, rate int) *load {
	l := &load{
		t: t, firstID: firstID, events: events,
		// Keep-alive connections, as an Ingress controller's upstream
		// pool keeps them: the rolling update must not break them.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
		stop:   make(chan struct{}),
		acked:  map[int64][]int{},
	}
	l.wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			id, v := l.firstID+int64(i%l.events), i/l.events+1
			l.mu.Lock()
			l.sent++
			l.mu.Unlock()
			l.wg.Go(func() { l.deliver(id, v) })
		}
	})
	return l
}

// deliver posts version v of event id until it is answered 2xx, for at
// most two minutes, waiting between attempts as the answer's Retry-After
// says (a sender that ignored it would pile retries onto an overloaded
// cluster), with a capped exponential backoff otherwise.
func (l *load) deliver(id int64, v int) {
	body := testenv.EventVersion(id, v)
	deadline := time.Now().Add(2 * time.Minute)
	backoff := 50 * time.Millisecond
	for time.Now().Before(deadline) {
		code, retryAfter, err := post(l.client, receiverURL, token, body)
		l.mu.Lock()
		l.requests++
		switch {
		case err != nil:
			l.connErrors++
			l.lastErr = err.Error()
		case code >= 500:
			l.http5xx++
		}
		if code >= 200 && code < 300 {
			l.acked[id] = append(l.acked[id], v)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		time.Sleep(max(backoff, retryAfter))
		backoff = min(2*backoff, time.Second)
	}
	l.mu.Lock()
	l.unacked++
	l.mu.Unlock()
}

// stopAndWait stops sending and waits for every delivery to be
// acknowledged or given up.
func (l *load) stopAndWait() {
	close(l.stop)
	l.wg.Wait()
}

// post sends one delivery with the token as a bearer token and returns
// the answer's code and Retry-After; err is a connection error (no HTTP
// answer).
func post(c *http.Client, url, token string, body []byte) (code int, retryAfter time.Duration, err error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retryAfter, nil
}

// settle waits until every event of the load is Ready with a ConfigMap
// that holds its stored title, then compares what was acknowledged with
// what is stored: every acknowledged version must be stored or superseded.
// It returns the table's row, with how long convergence took.
func (l *load) settle(t *testing.T, what string) row {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	converge := eventually(t, "every event Ready with its ConfigMap", 3*time.Minute, func() error {
		return l.converged()
	})
	r := row{what: what, deliveries: l.sent, requests: l.requests, connErrors: l.connErrors, http5xx: l.http5xx, converge: converge}
	for e := range l.events {
		id := l.firstID + int64(e)
		var obj eventsv1alpha1.IngresseEvent
		held := 0
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: eventsv1alpha1.ResourceName(id)}, &obj); err == nil {
			held, _ = strconv.Atoi(strings.TrimPrefix(ptr.Deref(obj.Spec.Title, ""), "version "))
		}
		for _, v := range l.acked[id] {
			r.acked++
			if held >= v {
				r.stored++
			} else {
				r.lost++
				t.Errorf("event %d: version %d was acknowledged, the cluster holds version %d", id, v, held)
			}
		}
	}
	if l.unacked > 0 {
		t.Errorf("%d deliveries were never acknowledged in two minutes of retries (last connection error: %s)", l.unacked, l.lastErr)
	}
	if r.lost > 0 {
		t.Errorf("%d acknowledged deliveries lost", r.lost)
	}
	addRow(r)
	return r
}

// converged reports why the load's events are not all Ready with a
// ConfigMap that holds their stored title, or nil when they are.
func (l *load) converged() error {
	var list eventsv1alpha1.IngresseEventList
	if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return err
	}
	var cms corev1.ConfigMapList
	if err := k8s.List(ctx, &cms, client.InNamespace(ns)); err != nil {
		return err
	}
	titles := map[string]string{}
	for _, cm := range cms.Items {
		titles[cm.Name] = cm.Data["EVENT_TITLE"]
	}
	byName := map[string]*eventsv1alpha1.IngresseEvent{}
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	for e := range min(l.events, l.sent) {
		name := eventsv1alpha1.ResourceName(l.firstID + int64(e))
		obj := byName[name]
		if obj == nil {
			return fmt.Errorf("%s is not stored", name)
		}
		ready := meta.FindStatusCondition(obj.Status.Conditions, "Ready")
		if ready == nil || ready.Status != "True" || obj.Status.ObservedGeneration != obj.Generation {
			return fmt.Errorf("%s is not Ready at generation %d", name, obj.Generation)
		}
		if titles[name] != ptr.Deref(obj.Spec.Title, "") {
			return fmt.Errorf("the ConfigMap %s holds %q, the event %q", name, titles[name], ptr.Deref(obj.Spec.Title, ""))
		}
	}
	return nil
}
