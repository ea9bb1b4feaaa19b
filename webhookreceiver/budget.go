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
// what it did not use. Like the in-flight bound, it never waits: past the
// budget the answer is 503 with Retry-After.
type bodyBudget struct {
	sem   *semaphore.Weighted
	limit int64 // the body limit: what an undeclared length reserves
	// used is what is reserved now, for the in-flight bytes gauge (the
	// semaphore does not say).
	used atomic.Int64
}

func newBodyBudget(total, bodyLimit int64) *bodyBudget {
	return &bodyBudget{sem: semaphore.NewWeighted(total), limit: bodyLimit}
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

// release gives the whole reservation back.
func (r *reservation) release() {
	if r != nil && r.n > 0 {
		r.budget.used.Add(-r.n)
		r.budget.sem.Release(r.n)
		r.n = 0
	}
}
