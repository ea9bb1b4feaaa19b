package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// TestRetentionThroughTheBinary: with --retention-after, the manager's
// controller deletes an event whose sessions and last change are older than
// it, records an Expired Event, and a later delivery stores it anew.
func TestRetentionThroughTheBinary(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	m := startReady(t, testenv.ManagerOptions{
		Namespace: ns, Tokens: []string{resyncToken},
		Args: []string{"--retention-after=720h", "--retention-interval=500ms"},
	})

	// Ingresse's example: its only session was in 2017. Delivered now, it
	// is recent: kept.
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, examples.EventCreate); code != http.StatusCreated {
		t.Fatalf("delivery: HTTP %d %v", code, answer)
	}
	name := eventsv1alpha1.ResourceName(21447)
	key := client.ObjectKey{Namespace: ns, Name: name}
	eventually(t, 30*time.Second, "Ready", converged(ctx, ns, name, "Webhook Example"))
	time.Sleep(2 * time.Second) // a few retention sweeps
	if err := env.Client.Get(ctx, key, &eventsv1alpha1.IngresseEvent{}); err != nil {
		t.Fatalf("an event received just now was deleted: %v", err)
	}

	// As if it had been received 60 days ago: the next sweep deletes it.
	var ev eventsv1alpha1.IngresseEvent
	if err := env.Client.Get(ctx, key, &ev); err != nil {
		t.Fatal(err)
	}
	ev.Annotations[eventsv1alpha1.AnnotationReceivedAt] = time.Now().Add(-60 * 24 * time.Hour).UTC().Format(time.RFC3339Nano)
	if err := env.Client.Update(ctx, &ev); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the expired event deleted", func() error {
		err := env.Client.Get(ctx, key, &eventsv1alpha1.IngresseEvent{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%w)", err)
	})
	eventually(t, 30*time.Second, "an Expired Event", func() error {
		var events corev1.EventList
		if err := env.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Reason == "Expired" && e.InvolvedObject.Name == name {
				return nil
			}
		}
		return fmt.Errorf("none among %d Events", len(events.Items))
	})
	if got := metric(t, m, "ingresse_retention_events_total", `outcome="deleted"`); got != 1 {
		t.Errorf("retention deleted %v events by its metric, want 1", got)
	}

	// Ingresse sends it again: stored anew.
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, examples.EventUpdate); code != http.StatusCreated {
		t.Fatalf("a delivery after the deletion: HTTP %d %v, want 201 (stored anew)", code, answer)
	}
}

// TestRestartWritesNothing: a manager restarted with every event converged
// reconciles each once, says so (a metric and a log line with the count),
// and writes nothing.
func TestRestartWritesNothing(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	start := func() *testenv.Manager {
		m, err := env.StartManager(testenv.ManagerOptions{Namespace: ns, Tokens: []string{resyncToken}})
		if err != nil {
			t.Fatal(err)
		}
		readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := m.WaitReady(readyCtx); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := start()
	const n = 200
	for id := int64(1); id <= n; id++ {
		if code, answer := deliver(t, m.ReceiverURL, resyncToken, testenv.EventVersion(id, 1)); code != http.StatusCreated {
			t.Fatalf("event %d: HTTP %d %v", id, code, answer)
		}
	}
	for id := int64(1); id <= n; id++ {
		eventually(t, time.Minute, "converged", converged(ctx, ns, eventsv1alpha1.ResourceName(id), "version 1"))
	}
	eventually(t, 30*time.Second, "the first start's reconciles counted", func() error {
		if got := metric(t, m, "ingresse_controller_startup_reconcile_seconds"); got == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	m.Stop(30 * time.Second)

	before, err := env.OperatorWrites()
	if err != nil {
		t.Fatal(err)
	}
	m = start()
	t.Cleanup(func() {
		m.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("manager log:\n%s", m.Log())
		}
	})
	eventually(t, time.Minute, "every stored event reconciled once after the restart", func() error {
		if got := metric(t, m, "ingresse_controller_startup_reconcile_seconds"); got == 0 {
			return fmt.Errorf("%v events pending", metric(t, m, "ingresse_controller_startup_pending_events"))
		}
		return nil
	})
	after, err := env.OperatorWrites()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the restart made %v writes, want 0", after-before)
	}
	said := false
	for line := range strings.SplitSeq(m.Log(), "\n") {
		said = said || strings.Contains(line, "Reconciled every stored event once since start") && strings.Contains(line, fmt.Sprintf(`"events":%d`, n))
	}
	if !said {
		t.Errorf("no log line says the %d stored events were reconciled once", n)
	}
}
