package webhookreceiver

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// TestBodyBudgetNeverOverbooks: over random sequences of reservations
// (declared lengths, unknown lengths, bodies shorter than declared) and
// releases, what is reserved never exceeds the budget, a reservation is
// refused exactly when it would, and everything comes back.
func TestBodyBudgetNeverOverbooks(t *testing.T) {
	const total, limit = 64 << 10, 16 << 10
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 23))
		b := newBodyBudget(total, limit)
		var held []*reservation
		var sum int64
		for range 200 {
			if len(held) > 0 && rng.IntN(3) == 0 {
				i := rng.IntN(len(held))
				sum -= held[i].n
				held[i].release()
				held[i].release() // twice is once
				held = append(held[:i], held[i+1:]...)
				continue
			}
			declared := int64(rng.IntN(limit + 1))
			if rng.IntN(4) == 0 {
				declared = -1 // chunked: the limit is reserved
			}
			want := declared
			if declared < 0 {
				want = limit
			}
			r, err := b.reserve(declared)
			if fits := sum+want <= total; fits != (err == nil) {
				t.Fatalf("seed %d: reserving %d with %d of %d reserved: %v", seed, want, sum, total, err)
			}
			if err != nil {
				if he := asHTTPError(err); he.code != http.StatusServiceUnavailable || he.retryAfter == 0 {
					t.Fatalf("seed %d: refusal answered %d (Retry-After %d), want 503 with Retry-After", seed, he.code, he.retryAfter)
				}
				continue
			}
			sum += want
			if read := int64(rng.IntN(int(want) + 1)); rng.IntN(2) == 0 {
				r.shrink(read)
				r.shrink(read + 1) // never grows
				sum -= want - read
			}
			held = append(held, r)
			if got := b.inUse(); got != sum || got > total {
				t.Fatalf("seed %d: inUse %d, want %d (budget %d)", seed, got, sum, total)
			}
		}
		for _, r := range held {
			r.release()
		}
		if got := b.inUse(); got != 0 {
			t.Fatalf("seed %d: %d bytes still reserved after every release", seed, got)
		}
		if r, err := b.reserve(total); err != nil {
			t.Fatalf("seed %d: the whole budget cannot be reserved after every release: %v", seed, err)
		} else {
			r.release()
		}
	}
}

// blockingBody is a request body that sends its first byte and then waits
// until released: a delivery that holds its reservation.
type blockingBody struct {
	started chan struct{}
	release chan struct{}
	rest    io.Reader
	sent    bool
}

func newBlockingBody(body []byte) *blockingBody {
	return &blockingBody{started: make(chan struct{}), release: make(chan struct{}), rest: bytes.NewReader(body)}
}

func (b *blockingBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		close(b.started)
		<-b.release
	}
	return b.rest.Read(p)
}

func (b *blockingBody) Close() error { return nil }

// TestByteBudgetTurnsAwayLargeDeliveries: while deliveries whose bodies
// add up to the budget are being read, another one that does not fit gets
// 503 with Retry-After before a byte of its body is read, a small one that
// fits is stored, and once they are answered the budget is whole again.
// A body of unknown length (chunked) counts as the body limit until it is
// read.
func TestByteBudgetTurnsAwayLargeDeliveries(t *testing.T) {
	const limit = 64 << 10
	r := newHTTPReplica(t, replicaConfig{opts: func(o *Options) {
		o.MaxBodyBytes = limit
		o.MaxInFlightBytes = 2 * limit
	}})
	hold := func(contentLength int64) (*blockingBody, chan *httptest.ResponseRecorder) {
		body := newBlockingBody(examples.EventCreate)
		req := httptest.NewRequest(http.MethodPost, webhookPath, nil)
		req.Body, req.ContentLength = body, contentLength
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			rec := httptest.NewRecorder()
			r.srv.Handler().ServeHTTP(rec, req)
			done <- rec
		}()
		<-body.started
		return body, done
	}
	// One declares the limit, the other declares nothing: together, the
	// whole budget.
	first, firstDone := hold(limit)
	second, secondDone := hold(-1)
	if got := r.srv.bodyBudget.inUse(); got != 2*limit {
		t.Fatalf("%d bytes reserved by two held deliveries, want %d", got, 2*limit)
	}

	tracker := &readTracker{r: bytes.NewReader(examples.EventCreate)}
	rec := r.post(t, examples.EventCreate, withBody(tracker))
	expect(t, rec, http.StatusServiceUnavailable, "too many bytes of webhooks in flight")
	if rec.Header().Get("Retry-After") == "" || tracker.read.Load() {
		t.Fatalf("refusal: Retry-After %q, body read %v; want a Retry-After and no read", rec.Header().Get("Retry-After"), tracker.read.Load())
	}
	if n := metricValue(t, r.reg, "ingresse_receiver_in_flight_bytes", nil); n != 2*limit {
		t.Fatalf("ingresse_receiver_in_flight_bytes %v, want %d", n, 2*limit)
	}

	// The chunked one, once read, gives back what it did not use, so a
	// delivery that fits is taken while the first still holds its share.
	close(second.release)
	expect(t, <-secondDone, http.StatusCreated, outcomeCreated)
	expect(t, r.post(t, examples.EventUpdate), http.StatusOK, outcomeUnchanged)
	close(first.release)
	expect(t, <-firstDone, http.StatusOK, outcomeUnchanged)
	if got := r.srv.bodyBudget.inUse(); got != 0 {
		t.Fatalf("%d bytes still reserved once every delivery is answered", got)
	}
}

// TestJSONTokensCountsWhatTheDecoderReturns: over random JSON texts (every
// kind of value, strings with escapes, quotes and brackets inside them,
// any whitespace), jsonTokens is the number of tokens encoding/json's
// Decoder returns, closing delimiters left out.
func TestJSONTokensCountsWhatTheDecoderReturns(t *testing.T) {
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 6))
		text := randomJSON(rng, 0)
		dec := json.NewDecoder(bytes.NewReader(text))
		var want int64
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("seed %d: %s is not JSON: %v", seed, text, err)
			}
			if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
				continue
			}
			want++
		}
		if got := jsonTokens(text); got != want {
			t.Fatalf("seed %d: jsonTokens(%s) = %d, want %d", seed, text, got, want)
		}
	}
}

// randomJSON is a random JSON text with random whitespace between tokens.
func randomJSON(rng *rand.Rand, depth int) []byte {
	ws := func() string { return []string{"", " ", "\n\t", "\r\n  "}[rng.IntN(4)] }
	str := func() string {
		const parts = `ab{}[],:"\ é`
		var sb strings.Builder
		for range rng.IntN(6) {
			sb.WriteString(string([]rune(parts)[rng.IntN(len([]rune(parts)))]))
		}
		b, _ := json.Marshal(sb.String())
		return string(b)
	}
	kind := rng.IntN(8)
	if depth > 4 {
		kind = rng.IntN(4)
	}
	switch kind {
	case 0:
		return []byte(str())
	case 1:
		return []byte([]string{"0", "-1.5e3", "12345678901234567890", "3.25"}[rng.IntN(4)])
	case 2:
		return []byte([]string{"true", "false", "null"}[rng.IntN(3)])
	case 3:
		return []byte(`""`)
	case 4, 5:
		var sb strings.Builder
		sb.WriteString("[" + ws())
		for i := range rng.IntN(4) {
			if i > 0 {
				sb.WriteString(ws() + "," + ws())
			}
			sb.Write(randomJSON(rng, depth+1))
		}
		sb.WriteString(ws() + "]")
		return []byte(sb.String())
	default:
		var sb strings.Builder
		sb.WriteString("{" + ws())
		for i := range rng.IntN(4) {
			if i > 0 {
				sb.WriteString(ws() + "," + ws())
			}
			sb.WriteString(str() + ws() + ":" + ws())
			sb.Write(randomJSON(rng, depth+1))
		}
		sb.WriteString(ws() + "}")
		return []byte(sb.String())
	}
}

// TestBodyBudgetChargesDecodedCost: a read body settles its reservation to
// its bytes plus tokenCost per token; a body of many small values is
// refused while others hold the budget, is handled alone when it costs the
// whole budget or more, and a refused settle keeps what it held, for the
// caller to release.
func TestBodyBudgetChargesDecodedCost(t *testing.T) {
	const total, limit = 1 << 20, 256 << 10
	b := newBodyBudget(total, limit)
	small := examples.EventCreate
	r, err := b.reserve(int64(len(small)))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.settle(small); err != nil {
		t.Fatalf("settling the example: %v", err)
	}
	if want := int64(len(small)) + tokenCost*jsonTokens(small); b.inUse() != want {
		t.Fatalf("the example holds %d, want %d (its bytes and %d tokens)", b.inUse(), want, jsonTokens(small))
	}
	// Tens of thousands of members: far more than its bytes.
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 20000 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`"x` + strconv.Itoa(i) + `":1`)
	}
	sb.WriteString("}")
	many := []byte(sb.String())
	if b.cost(many) != total {
		t.Fatalf("cost of %d members: %d, want the whole budget %d", 20000, b.cost(many), total)
	}
	big, err := b.reserve(int64(len(many)))
	if err != nil {
		t.Fatal(err)
	}
	held := b.inUse()
	if err := big.settle(many); err == nil || asHTTPError(err).code != http.StatusServiceUnavailable {
		t.Fatalf("settling a body that does not fit beside another: %v, want 503", err)
	}
	if b.inUse() != held {
		t.Fatalf("a refused settle changed what is held: %d, was %d", b.inUse(), held)
	}
	big.release()
	r.release()
	if b.inUse() != 0 {
		t.Fatalf("%d still reserved after every release", b.inUse())
	}
	// Alone, it is handled.
	big, err = b.reserve(int64(len(many)))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.settle(many); err != nil {
		t.Fatalf("a body that costs the whole budget, alone: %v", err)
	}
	if b.inUse() != total {
		t.Fatalf("it holds %d, want %d", b.inUse(), total)
	}
	big.release()
}
