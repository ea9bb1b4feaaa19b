package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// Placeholders put into the seed payloads once, then replaced per delivery:
// cheaper than encoding 3 KiB of JSON for every request, so the senders
// take little of the two cores from the system under test.
const (
	idPlaceholder      = "987654321987"
	titlePlaceholder   = "__BENCH_TITLE__"
	updatedPlaceholder = "__BENCH_UPDATED_AT__"
	tsPlaceholder      = "__BENCH_TIMESTAMP__"
)

// payloads builds webhook bodies from Ingresse's two seed payloads.
type payloads struct {
	create, update string
	epoch          time.Time
}

func newPayloads() (*payloads, error) {
	create, err := template(examples.EventCreate)
	if err != nil {
		return nil, fmt.Errorf("event-create example: %w", err)
	}
	update, err := template(examples.EventUpdate)
	if err != nil {
		return nil, fmt.Errorf("event-update example: %w", err)
	}
	return &payloads{create: create, update: update, epoch: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
}

// template is a seed payload with its id, title, updatedAt and timestamp
// replaced by placeholders; every other member stays as Ingresse sent it
// (numbers keep their text: 100000.0 stays 100000.0).
func template(seed []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(seed))
	dec.UseNumber()
	var envelope map[string]any
	if err := dec.Decode(&envelope); err != nil {
		return "", err
	}
	data, ok := envelope["data"].(map[string]any)
	if !ok {
		return "", fmt.Errorf("no data object")
	}
	data["id"] = json.Number(idPlaceholder)
	data["title"] = titlePlaceholder
	data["updatedAt"] = updatedPlaceholder
	envelope["timestamp"] = tsPlaceholder
	b, err := json.Marshal(envelope)
	return string(b), err
}

// title is the title of version v of event id: version 0 is the create,
// 1..n the updates.
func title(id int64, v int) string {
	return "Bench event " + strconv.FormatInt(id, 10) + " v" + strconv.Itoa(v)
}

// body is version v of event id: event-create for v == 0, else an
// event-update whose updatedAt and timestamp are v seconds later.
func (p *payloads) body(id int64, v int) []byte {
	tmpl := p.update
	if v == 0 {
		tmpl = p.create
	}
	at := p.epoch.Add(time.Duration(v) * time.Second)
	return []byte(strings.NewReplacer(
		idPlaceholder, strconv.FormatInt(id, 10),
		titlePlaceholder, title(id, v),
		updatedPlaceholder, at.Format("2006-01-02T15:04:05.000000+00:00"),
		tsPlaceholder, at.Format("2006-01-02T15:04:05.000000"),
	).Replace(tmpl))
}

// delivery is one webhook to send. When expect is set the tracker is told,
// just before the POST, that the event must converge on this version.
type delivery struct {
	id     int64
	name   string
	title  string
	body   []byte
	expect bool
}

// sendResult is what a phase of deliveries did.
type sendResult struct {
	deliveries      int
	ok              int         // 2xx answers
	non2xx          map[int]int // code -> count
	transportErrors int
	outcomes        map[string]int // answer status -> count
	latencies       []time.Duration
	elapsed         time.Duration
	firstErrors     []string
}

func (r *sendResult) add(o *sendResult) {
	r.deliveries += o.deliveries
	r.ok += o.ok
	r.transportErrors += o.transportErrors
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	for k, v := range o.non2xx {
		r.non2xx[k] += v
	}
	for k, v := range o.outcomes {
		r.outcomes[k] += v
	}
	for _, e := range o.firstErrors {
		if len(r.firstErrors) < 5 {
			r.firstErrors = append(r.firstErrors, e)
		}
	}
}

func newSendResult() *sendResult {
	return &sendResult{non2xx: map[int]int{}, outcomes: map[string]int{}}
}

func (r *sendResult) errors() int {
	n := r.transportErrors
	for _, v := range r.non2xx {
		n += v
	}
	return n
}

// sender posts deliveries to the receiver.
type sender struct {
	url, token string
	client     *http.Client
	tracker    *tracker
}

func newSender(url, token string, conns int, t *tracker) *sender {
	transport := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
	}
	return &sender{url: url, token: token, tracker: t, client: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
}

// post sends one delivery; it returns the answer code (0 on a transport
// error), the answer's status and the error text, if any.
func (s *sender) post(ctx context.Context, d delivery) (int, string, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, "", err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	if d.expect {
		s.tracker.expect(d.name, d.title, time.Now())
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var answer struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	_ = json.Unmarshal(raw, &answer)
	return resp.StatusCode, answer.Status, answer.Error
}

// resultRecorder collects answers from several goroutines.
type resultRecorder struct {
	mu  sync.Mutex
	res *sendResult
}

func (rr *resultRecorder) record(d delivery, code int, status, errText string, latency time.Duration) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	r := rr.res
	r.deliveries++
	r.latencies = append(r.latencies, latency)
	switch {
	case code == 0:
		r.transportErrors++
	case code >= 200 && code < 300:
		r.ok++
		r.outcomes[status]++
		return
	default:
		r.non2xx[code]++
	}
	if len(r.firstErrors) < 5 {
		r.firstErrors = append(r.firstErrors, fmt.Sprintf("%s: code %d: %s", d.name, code, errText))
	}
}

// closedLoop sends every delivery from c goroutines, each sending its next
// delivery as soon as the previous one is answered: the most the receiver
// can take at that concurrency.
func (s *sender) closedLoop(ctx context.Context, deliveries []delivery, c int) *sendResult {
	rr := &resultRecorder{res: newSendResult()}
	rr.res.latencies = make([]time.Duration, 0, len(deliveries))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(deliveries) || ctx.Err() != nil {
					return
				}
				d := deliveries[i]
				t0 := time.Now()
				code, status, errText := s.post(ctx, d)
				rr.record(d, code, status, errText, time.Since(t0))
			}
		})
	}
	wg.Wait()
	rr.res.elapsed = time.Since(start)
	return rr.res
}

// openLoop sends the deliveries at a fixed rate, whatever the answers do,
// from up to workers goroutines. Latency is measured from the instant each
// delivery was due, so a stall shows in the figures even when it delays
// the sends behind it (no coordinated omission).
func (s *sender) openLoop(ctx context.Context, deliveries []delivery, rate float64, workers int) *sendResult {
	rr := &resultRecorder{res: newSendResult()}
	type job struct {
		d   delivery
		due time.Time
	}
	jobs := make(chan job, len(deliveries))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				code, status, errText := s.post(ctx, j.d)
				rr.record(j.d, code, status, errText, time.Since(j.due))
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i, d := range deliveries {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- job{d: d, due: due}
	}
	close(jobs)
	wg.Wait()
	rr.res.elapsed = time.Since(start)
	return rr.res
}
