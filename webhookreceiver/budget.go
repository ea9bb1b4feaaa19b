package webhookreceiver

import (
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// bodyBudget bounds the bytes of the bodies handled at once. A delivery
// holds its body several times over while it is handled (the bytes read,
// the decoded spec, its canonical form for the digest, the encoded request
// to the API server), so 128 deliveries of 1 MiB each can take several
// hundred MiB: past a pod's memory limit, an OOM kill of every replica by
// anyone holding a token. Counting only requests does not bound that;
// counting their bytes does (docs/receiver.md gives the measured memory
// per byte in flight).
//
// A delivery reserves its declared length, or the body limit when it
// declares none (chunked), before its body is read, and keeps the
// reservation until it is answered; once read, a chunked body gives back
// what it did not use. Wire bytes alone undercount: a megabyte of small
// JSON values (tens of thousands of attributes or members) decodes into
// maps, interfaces and strings that take over 15 times its size. So once
// read, and before it is decoded, a body also reserves tokenCost for each
// JSON token it holds (cost). Like the in-flight bound, it never waits:
// past the budget the answer is 503 with Retry-After.
type bodyBudget struct {
	sem   *semaphore.Weighted
	total int64 // the budget
	limit int64 // the body limit: what an undeclared length reserves
	// used is what is reserved now, for the in-flight bytes gauge (the
	// semaphore does not say).
	used atomic.Int64
}

func newBodyBudget(total, bodyLimit int64) *bodyBudget {
	return &bodyBudget{sem: semaphore.NewWeighted(total), total: total, limit: bodyLimit}
}

// inUse is how many bytes are reserved now.
func (b *bodyBudget) inUse() int64 { return b.used.Load() }

// reservation is a share of the budget, released once.
type reservation struct {
	budget *bodyBudget
	n      int64
}

// reserve takes the share of a body whose declared length is
// contentLength (-1 when unknown), or fails with errBusy.
func (b *bodyBudget) reserve(contentLength int64) (*reservation, error) {
	n := b.limit
	if contentLength >= 0 && contentLength < n {
		n = contentLength
	}
	if !b.sem.TryAcquire(n) {
		return nil, errBusyBytes()
	}
	b.used.Add(n)
	return &reservation{budget: b, n: n}, nil
}

// shrink gives back what a body of n bytes does not use.
func (r *reservation) shrink(n int64) {
	if n < r.n {
		r.budget.used.Add(n - r.n)
		r.budget.sem.Release(r.n - n)
		r.n = n
	}
}

// tokenCost is what the budget charges for each JSON token of a body, on
// top of its bytes: about what one small member or attribute (a key and
// its value, up to six tokens) holds once decoded, its copies and the
// garbage they leave for the collector included, measured by
// TestReceiverMemoryUnderLargeDeliveries (cmd/memory_test.go).
const tokenCost = 128

// cost is what a read body reserves: its bytes and tokenCost per JSON
// token, never more than the whole budget (a delivery that costs that
// much is handled alone, not refused forever).
func (b *bodyBudget) cost(body []byte) int64 {
	return min(int64(len(body))+tokenCost*jsonTokens(body), b.total)
}

// settle makes the reservation, taken for a body not yet read, exactly
// what the read body costs: it gives back what the body does not use, or
// takes the rest, failing with errBusy (and keeping what it held) when the
// rest does not fit.
func (r *reservation) settle(body []byte) error {
	n := r.budget.cost(body)
	if n <= r.n {
		r.shrink(n)
		return nil
	}
	if !r.budget.sem.TryAcquire(n - r.n) {
		return errBusyBytes()
	}
	r.budget.used.Add(n - r.n)
	r.n = n
	return nil
}

// jsonTokens counts the tokens of a JSON text as encoding/json's Decoder
// would return them, closing delimiters left out: each opening '{' or '[',
// each string (member names included) and each number or literal. It is
// one pass with no allocation, so that a body's cost is known before any
// decoding; on a text that is not JSON it still counts something close.
func jsonTokens(b []byte) int64 {
	var n int64
	inString, escaped, inScalar := false, false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString, inScalar = true, false
			n++
		case '{', '[':
			inScalar = false
			n++
		case '}', ']', ',', ':', ' ', '\t', '\n', '\r':
			inScalar = false
		default:
			if !inScalar {
				inScalar = true
				n++
			}
		}
	}
	return n
}

// release gives the whole reservation back.
func (r *reservation) release() {
	if r != nil && r.n > 0 {
		r.budget.used.Add(-r.n)
		r.budget.sem.Release(r.n)
		r.n = 0
	}
}
