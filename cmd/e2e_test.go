package main

// End-to-end test of the shipped binary: bin/manager runs as its own OS
// process against the test control plane (with kube-controller-manager's
// garbage collector), with real flags and a token file, and is driven over
// HTTP the way Ingresse drives it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Run(m, &env) }

// deliver posts body to url with the token as a query parameter.
func deliver(t *testing.T, url, token string, body []byte) (int, map[string]string) {
	t.Helper()
	resp, err := http.Post(url+"?token="+token, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	answer := map[string]string{}
	_ = json.Unmarshal(raw, &answer)
	return resp.StatusCode, answer
}

// eventually polls cond every 100ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withUpdate returns the event-update example with a newer updatedAt and
// title, as Ingresse sends after an edit.
func withUpdate(t *testing.T, title, updatedAt string) []byte {
	t.Helper()
	var envelope map[string]any
	if err := json.Unmarshal(examples.EventUpdate, &envelope); err != nil {
		t.Fatal(err)
	}
	data := envelope["data"].(map[string]any)
	data["title"] = title
	data["updatedAt"] = updatedAt
	b, err := json.Marshal(envelope)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// converged checks that the event is Ready for its current generation and
// that its ConfigMap carries the given title.
func converged(ctx context.Context, ns, name, title string) func() error {
	return func() error {
		var ev eventsv1alpha1.IngresseEvent
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ev); err != nil {
			return err
		}
		ready := meta.FindStatusCondition(ev.Status.Conditions, eventsv1alpha1.ConditionReady)
		if ready == nil || ready.Status != "True" || ev.Status.ObservedGeneration != ev.Generation || ready.ObservedGeneration != ev.Generation {
			return fmt.Errorf("not Ready for generation %d: %+v", ev.Generation, ev.Status)
		}
		var cm corev1.ConfigMap
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
			return err
		}
		if cm.Data["EVENT_TITLE"] != title {
			return fmt.Errorf("ConfigMap title %q, want %q", cm.Data["EVENT_TITLE"], title)
		}
		if ev.Status.ConfigMapRef == nil || ev.Status.ConfigMapRef.ContentHash != cm.Annotations[eventsv1alpha1.AnnotationContentHash] {
			return fmt.Errorf("status.configMapRef %+v does not match the ConfigMap", ev.Status.ConfigMapRef)
		}
		return nil
	}
}

func TestManagerBinaryEndToEnd(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	gc, err := env.StartGarbageCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Stop()

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens")
	writeTokens := func(tokens ...string) {
		// Written aside and renamed, as the kubelet swaps a Secret volume.
		tmp := tokenFile + ".new"
		if err := os.WriteFile(tmp, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tokenFile); err != nil {
			t.Fatal(err)
		}
	}
	writeTokens("old-token-0123456789")

	start := func() *testenv.Manager {
		m, err := env.StartManager(testenv.ManagerOptions{
			Namespace: ns,
			TokenFile: tokenFile,
			Dir:       dir,
			Args: []string{
				"--leader-elect",
				"--receiver-token-reload-interval=200ms",
				"--receiver-shutdown-delay=2s",
				"--receiver-shutdown-timeout=10s",
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := m.WaitReady(readyCtx); err != nil {
			m.Stop(10 * time.Second)
			t.Fatal(err)
		}
		return m
	}
	m := start()
	t.Cleanup(func() {
		m.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("manager log:\n%s", m.Log())
		}
	})
	name := eventsv1alpha1.ResourceName(21447)

	t.Run("both seed examples over HTTP", func(t *testing.T) {
		if code, answer := deliver(t, m.ReceiverURL, "old-token-0123456789", examples.EventCreate); code != http.StatusCreated || answer["status"] != "created" {
			t.Fatalf("event-create: %d %v", code, answer)
		}
		if code, answer := deliver(t, m.ReceiverURL, "old-token-0123456789", examples.EventUpdate); code != http.StatusOK || answer["status"] != "unchanged" {
			t.Fatalf("event-update of the same data: %d %v", code, answer)
		}
		eventually(t, 30*time.Second, "seed event Ready with its ConfigMap", converged(ctx, ns, name, "Webhook Example"))

		update := withUpdate(t, "Webhook Example, moved", "2018-03-07T10:00:00.000001+00:00")
		if code, answer := deliver(t, m.ReceiverURL, "old-token-0123456789", update); code != http.StatusOK || answer["status"] != "updated" {
			t.Fatalf("newer event-update: %d %v", code, answer)
		}
		if code, answer := deliver(t, m.ReceiverURL, "old-token-0123456789", examples.EventCreate); code != http.StatusOK || answer["status"] != "stale" {
			t.Fatalf("the older create, redelivered: %d %v", code, answer)
		}
		eventually(t, 30*time.Second, "updated event converged", converged(ctx, ns, name, "Webhook Example, moved"))
	})

	t.Run("the sender subcommand", func(t *testing.T) {
		bin, err := testenv.BuildManager()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "send", "--url", m.ReceiverURL, "--token", "old-token-0123456789", "--auth", "basic").CombinedOutput()
		if err != nil {
			t.Fatalf("manager send: %v\n%s", err, out)
		}
		for _, want := range []string{`event-create: HTTP 200 {"status":"stale"`, `event-update: HTTP 200 {"status":"stale"`} {
			if !strings.Contains(string(out), want) {
				t.Errorf("manager send printed\n%s\nwant a line with %s", out, want)
			}
		}
	})

	t.Run("token rotation without a restart", func(t *testing.T) {
		writeTokens("old-token-0123456789", "new-token-9876543210")
		eventually(t, 10*time.Second, "the new token accepted", func() error {
			if code, _ := deliver(t, m.ReceiverURL, "new-token-9876543210", examples.EventUpdate); code != http.StatusOK {
				return fmt.Errorf("HTTP %d", code)
			}
			return nil
		})
		writeTokens("new-token-9876543210")
		eventually(t, 10*time.Second, "the old token refused", func() error {
			if code, _ := deliver(t, m.ReceiverURL, "old-token-0123456789", examples.EventUpdate); code != http.StatusUnauthorized {
				return fmt.Errorf("HTTP %d", code)
			}
			return nil
		})
		if code, _ := deliver(t, m.ReceiverURL, "new-token-9876543210", examples.EventUpdate); code != http.StatusOK {
			t.Fatalf("the new token stopped working: %d", code)
		}
	})

	t.Run("SIGTERM drains cleanly", func(t *testing.T) {
		if err := m.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		// During --receiver-shutdown-delay the pod is not ready, so a
		// Service stops sending it traffic, yet what still arrives is
		// served.
		eventually(t, 2*time.Second, "readiness false after SIGTERM", func() error {
			if testenv.Ready(m.ProbeURL) {
				return fmt.Errorf("still ready")
			}
			return nil
		})
		if code, answer := deliver(t, m.ReceiverURL, "new-token-9876543210", examples.EventUpdate); code != http.StatusOK {
			t.Errorf("a delivery during the shutdown delay got %d %v", code, answer)
		}
		exit, err := m.Wait(30 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if exit != 0 {
			t.Fatalf("exit code %d after SIGTERM, want 0", exit)
		}
		log := m.Log()
		for line := range strings.SplitSeq(log, "\n") {
			// controller-runtime reports the lease it released on the way
			// out as "leader election lost" when the elector stops after
			// the stop sequence began (now and then, by timing): that one
			// is not an error of the shutdown.
			releasedLease := strings.Contains(line, `"msg":"error received after stop sequence was engaged"`) &&
				strings.Contains(line, `"error":"leader election lost"`)
			if strings.Contains(line, `"level":"error"`) && !releasedLease {
				t.Errorf("errors logged during a clean shutdown:\n%s", log)
				break
			}
		}
	})

	t.Run("restarted, it converges on what changed while it was down", func(t *testing.T) {
		// While no manager runs: someone deletes the ConfigMap and edits
		// the event by hand.
		var cm corev1.ConfigMap
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Delete(ctx, &cm); err != nil {
			t.Fatal(err)
		}
		var ev eventsv1alpha1.IngresseEvent
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ev); err != nil {
			t.Fatal(err)
		}
		ev.Spec.Title = new("Edited while the operator was down")
		if err := env.Client.Update(ctx, &ev); err != nil {
			t.Fatal(err)
		}
		m = start()
		eventually(t, 30*time.Second, "converged after the restart", converged(ctx, ns, name, "Edited while the operator was down"))
	})

	t.Run("deleting the event garbage-collects its ConfigMap", func(t *testing.T) {
		ev := &eventsv1alpha1.IngresseEvent{}
		ev.Name, ev.Namespace = name, ns
		if err := env.Client.Delete(ctx, ev); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "ConfigMap garbage-collected", func() error {
			err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.ConfigMap{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there (%w); kube-controller-manager log: %s", err, gc.LogPath())
		})
	})
}
