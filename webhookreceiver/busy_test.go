package webhookreceiver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// TestWaitIdleWaitsForDeliveriesBeingStored: what the controller gives way
// to is a delivery whose API work is under way, and only that long.
func TestWaitIdleWaitsForDeliveriesBeingStored(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	block := &interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		once.Do(func() {
			close(entered)
			<-release
		})
		return c.Create(ctx, obj, opts...)
	}}
	r := newReplica(t, env.Namespace(t), replicaConfig{client: block})

	waited := func(limit time.Duration) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			r.srv.WaitIdle(context.Background(), limit)
			close(done)
		}()
		return done
	}
	select {
	case <-waited(time.Hour):
	case <-time.After(time.Minute):
		t.Fatal("WaitIdle waited on an idle receiver")
	}

	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- r.post(t, examples.EventCreate) }()
	<-entered
	whileBusy := waited(time.Hour)
	select {
	case <-whileBusy:
		t.Fatal("WaitIdle returned while a delivery was being stored")
	case <-time.After(200 * time.Millisecond):
	}
	// Bounded: it gives way for at most its limit.
	select {
	case <-waited(time.Millisecond):
	case <-time.After(time.Minute):
		t.Fatal("WaitIdle waited past its limit")
	}
	// And it ends with its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan struct{})
	go func() { r.srv.WaitIdle(ctx, time.Hour); close(cancelled) }()
	cancel()
	select {
	case <-cancelled:
	case <-time.After(time.Minute):
		t.Fatal("WaitIdle outlived its context")
	}

	close(release)
	expect(t, <-first, http.StatusCreated, outcomeCreated)
	select {
	case <-whileBusy:
	case <-time.After(time.Minute):
		t.Fatal("WaitIdle did not return once the delivery was stored")
	}
}
