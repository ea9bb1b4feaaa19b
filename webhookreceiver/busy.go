package webhookreceiver

import (
	"context"
	"sync"
	"time"
)

// busySignal counts the deliveries being stored, so that other work in the
// process can give way to them (Server.WaitIdle).
type busySignal struct {
	mu sync.Mutex
	n  int
	// idle is closed while n is 0.
	idle chan struct{}
}

func newBusySignal() *busySignal {
	idle := make(chan struct{})
	close(idle)
	return &busySignal{idle: idle}
}

func (b *busySignal) enter() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == 0 {
		b.idle = make(chan struct{})
	}
	b.n++
}

func (b *busySignal) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n--
	if b.n == 0 {
		close(b.idle)
	}
}

func (b *busySignal) idleChan() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.idle
}

// WaitIdle returns once this receiver stores no delivery, after at most
// limit, or when ctx ends. The controller calls it before each reconcile
// so that, in a burst, Ingresse's deliveries reach the API server first:
// the sender waits for their answers, while a ConfigMap can follow a
// moment later. Deliveries being authenticated or decoded do not count,
// only those whose API work is under way.
func (s *Server) WaitIdle(ctx context.Context, limit time.Duration) {
	idle := s.busy.idleChan()
	select {
	case <-idle:
		return
	default:
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
	}
}
