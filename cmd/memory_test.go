package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver"
)

// The install's receiver: its memory limit and the GOMEMLIMIT it runs with
// (config/manager/receiver.yaml).
const (
	receiverMemoryLimit int64 = 256 << 20
	receiverGOMEMLIMIT        = "230MiB"
)

// TestReceiverMemoryUnderLargeDeliveries floods a receiver-only manager,
// configured as the install runs it, with dozens of concurrent deliveries
// just under the body limit, in every shape that costs memory: one long
// string, tens of thousands of attributes, deep nesting, many small
// objects, many members the spec does not know, and a body that fails the
// typed decoding at its end (examined again as generic JSON). Whatever the
// answers, the process's peak RSS must stay well under its memory limit:
// the byte budget (--receiver-max-in-flight-bytes) turns the excess away
// with 503 instead of holding it. Without it, this flood takes the process
// past the limit (an OOM kill in a pod).
func TestReceiverMemoryUnderLargeDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the receiver with large deliveries")
	}
	ns := env.Namespace(t)
	const token = "memory-token-0123456789"
	m, err := env.StartManager(testenv.ManagerOptions{
		Namespace: ns, Tokens: []string{token}, Dir: t.TempDir(),
		Args: []string{"--enable-controller=false", "--leader-elect=false"},
		Env:  []string{"GOMEMLIMIT=" + receiverGOMEMLIMIT},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("manager log:\n%s", tail(m.Log(), 4000))
		}
	})
	readyCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.WaitReady(readyCtx); err != nil {
		t.Fatal(err)
	}
	base := peakRSS(t, m.Pid())

	const (
		workers   = 32
		limit     = webhookreceiver.DefaultMaxBodyBytes
		shapeTime = 30 * time.Second
	)
	answers := map[int]int{}
	for _, shape := range largeShapes(limit - 4096) {
		began := time.Now()
		shapeAnswers := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		// Deliveries the budget turns away are retried until the shape's
		// time is up: what is measured is the memory, not the throughput
		// of 1 MiB writes on a shared machine.
		deadline := began.Add(shapeTime)
		for w := range workers {
			wg.Go(func() {
				id := int64(1 + w)
				// A new event, then the same again: a write, then a
				// read and a digest.
				body := shape.body(id)
				for range 2 {
					code := postUntilAccepted(t, m.ReceiverURL, token, body, deadline)
					mu.Lock()
					answers[code]++
					shapeAnswers[code]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		t.Logf("%s: answers %v in %s; peak RSS %d MiB so far", shape.name, shapeAnswers, time.Since(began).Round(time.Second), peakRSS(t, m.Pid())>>20)
	}
	peak := peakRSS(t, m.Pid())
	t.Logf("answers %v; peak RSS %d MiB (%d MiB at start), limit %d MiB", answers, peak>>20, base>>20, receiverMemoryLimit>>20)
	if answers[0] > 0 {
		t.Fatalf("%d deliveries got no answer at all: the receiver fell over", answers[0])
	}
	if answers[http.StatusCreated] == 0 {
		t.Fatalf("answers %v: nothing was stored, so nothing was measured", answers)
	}
	// Well under: room for the runtime's own overhead and a slower GC.
	if bound := receiverMemoryLimit * 3 / 4; peak > bound {
		t.Fatalf("peak RSS %d MiB, above %d MiB (3/4 of the %d MiB limit)", peak>>20, bound>>20, receiverMemoryLimit>>20)
	}
}

// largeShape is a family of bodies of about size bytes, one per event id.
type largeShape struct {
	name string
	body func(id int64) []byte
}

// largeShapes are the bodies the memory test sends, each as large as fits
// in size bytes.
func largeShapes(size int) []largeShape {
	envelope := func(id int64, data map[string]any) []byte {
		data["id"] = id
		data["updatedAt"] = "2018-03-06T20:49:04.468974+00:00"
		b, err := json.Marshal(map[string]any{"webhook": "event-create", "timestamp": "2019-03-12T19:32:46Z", "data": data})
		if err != nil {
			panic(err)
		}
		return b
	}
	attributes := func(n int) map[string]any {
		attrs := make(map[string]any, n)
		for i := range n {
			attrs["attr"+strconv.Itoa(i)] = map[string]any{"name": "attr_" + strconv.Itoa(i), "value": i}
		}
		return attrs
	}
	// Each shape is a data member made of n repeated parts; fit finds the
	// largest n whose body fits.
	shapes := []struct {
		name string
		data func(n int) map[string]any
	}{
		{"one long string", func(n int) map[string]any { return map[string]any{"description": strings.Repeat("a", n)} }},
		{"tens of thousands of attributes", func(n int) map[string]any { return map[string]any{"attributes": attributes(n)} }},
		{"deep nesting", func(n int) map[string]any {
			// Just under encoding/json's 10000 levels, as many times as
			// fit.
			const depth = 9990
			attrs := map[string]any{}
			for i := range n {
				attrs["deep"+strconv.Itoa(i)] = map[string]any{"name": "deep", "value": json.RawMessage(strings.Repeat("[", depth) + strings.Repeat("]", depth))}
			}
			return map[string]any{"attributes": attrs}
		}},
		{"many small objects", func(n int) map[string]any {
			sessions := make([]map[string]any, n)
			for i := range sessions {
				sessions[i] = map[string]any{"id": i + 1, "dateTime": "2018-04-02T13:57:04Z", "status": "available"}
			}
			return map[string]any{"sessions": sessions}
		}},
		{"members the spec does not know", func(n int) map[string]any {
			data := map[string]any{}
			for i := range n {
				data["x"+strconv.Itoa(i)] = i
			}
			return data
		}},
		{"a type error at the end", func(n int) map[string]any {
			// The typed decode fails, and the whole body is decoded again
			// as generic JSON to name the member.
			return map[string]any{"attributes": attributes(n), "title": 7}
		}},
	}
	out := make([]largeShape, 0, len(shapes))
	for _, sh := range shapes {
		// Every part encodes to about the same size: start from the count
		// that fits by that size, then step down until it does.
		const id = 1_000_000
		empty, sample := len(envelope(id, sh.data(0))), len(envelope(id, sh.data(1000)))
		n := (size - empty) * 1000 / max(1, sample-empty)
		for n > 0 && len(envelope(id, sh.data(n))) > size {
			n -= max(1, n/1000)
		}
		out = append(out, largeShape{sh.name, func(id int64) []byte { return envelope(id, sh.data(n)) }})
	}
	return out
}

// postUntilAccepted posts body until the answer is not 503 (the byte
// budget turning it away for now) or the deadline passes, and returns the
// last answer's code; 0 when the connection failed.
func postUntilAccepted(t *testing.T, url, token string, body []byte, deadline time.Time) int {
	for {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("POST: %v", err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return resp.StatusCode
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// peakRSS is a process's peak resident set size (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/pid/status")
	return 0
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
