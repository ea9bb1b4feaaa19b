package webhookreceiver

import "sync"

// busySignal counts the deliveries being stored, so that other work in the
// process can give way to them (Server.Idle).
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

// Idle returns a channel that is closed while this receiver stores no
// delivery: the one returned while a delivery is being stored is closed
// once none is. The controller gives way to the receiver with it: in a
// burst, the deliveries Ingresse waits on reach the API server before the
// controller's writes, which can follow a moment later. Deliveries being
// authenticated or decoded do not count, only those whose API work is
// under way.
func (s *Server) Idle() <-chan struct{} {
	return s.busy.idleChan()
}
