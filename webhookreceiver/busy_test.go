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

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestIdleWhileNoDeliveryIsStored: what the controller gives way to is a
// delivery whose API work is under way, and only that long.
func TestIdleWhileNoDeliveryIsStored(t *testing.T) {
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
	if !closed(r.srv.Idle()) {
		t.Fatal("a receiver with nothing to store is not idle")
	}

	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- r.post(t, examples.EventCreate) }()
	<-entered
	busy := r.srv.Idle()
	if closed(busy) {
		t.Fatal("idle while a delivery is being stored")
	}
	close(release)
	expect(t, <-first, http.StatusCreated, outcomeCreated)
	select {
	case <-busy:
	case <-time.After(time.Minute):
		t.Fatal("not idle again once the delivery was stored")
	}
	if !closed(r.srv.Idle()) {
		t.Error("not idle after the delivery")
	}
}
