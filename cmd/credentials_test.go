package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ingresse-operator/ingresse-operator/internal/fakeingresse"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// TestStartRefusesCredentialsThatCannotServe: the manager binary exits
// non-zero, before it is ready, when its Ingresse credentials cannot serve
// a use it is configured for, and its log says which use, what it needs
// and which file, never a value.
func TestStartRefusesCredentialsThatCannotServe(t *testing.T) {
	fake := fakeingresse.New()
	expired := fake.MintJWT(time.Now().Add(-time.Minute))
	verified := []string{"--receiver-verify-with-api", "--ingresse-resync-interval=0"}
	for _, tc := range []struct {
		name        string
		credentials string
		args        []string
		want        string
	}{
		{"an apikey alone, verified deliveries", "apikey=" + fakeingresse.APIKey + "\n", verified,
			"reading an event (verified deliveries) needs jwt or usertoken+apikey"},
		{"an expired JWT alone, verified deliveries", "jwt=" + expired + "\n", verified,
			"which holds only jwt expired at"},
		{"a usertoken alone, verified deliveries", "usertoken=" + fakeingresse.UserToken + "\n", verified,
			"reading an event (verified deliveries) needs jwt or usertoken+apikey"},
		{"a usertoken alone, the company sweep", "usertoken=" + fakeingresse.UserToken + "\n", []string{"--ingresse-resync-interval=1h"},
			"the company listing needs apikey"},
		{"an apikey alone, the producer sweep", "apikey=" + fakeingresse.APIKey + "\n",
			[]string{"--ingresse-resync-interval=1h", "--ingresse-company-id=0", fmt.Sprintf("--ingresse-producer-id=%d", fakeProducerID)},
			"the producer listing needs jwt or usertoken+apikey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, path := fakeManagerOptions(t, env.Namespace(t), fake, tc.credentials, 0, tc.args...)
			m, err := env.StartManager(opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Stop(30 * time.Second) })
			exit, err := m.Wait(time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			log := m.Log()
			if exit == 0 {
				t.Fatalf("exit code 0, want an error; log:\n%s", log)
			}
			for _, s := range []string{tc.want, "in " + path} {
				if !strings.Contains(log, s) {
					t.Errorf("the log does not say %q:\n%s", s, log)
				}
			}
			for _, secret := range []string{fakeingresse.APIKey, fakeingresse.UserToken, expired} {
				if strings.Contains(log, secret) {
					t.Errorf("the log holds a credential (%.8s...):\n%s", secret, log)
				}
			}
		})
	}
}

// TestVerifiedReadinessFollowsTheJWT: with a JWT that nothing renews, the
// manager starts in verified mode, warns when the JWT expires, and
// verifies deliveries until then; from its exp claim on it is not ready
// (and says so in ingresse_api_credentials_usable) while deliveries get
// 503; a rotated Secret that can renew JWTs makes it ready again, without
// a delivery and without a restart.
func TestVerifiedReadinessFollowsTheJWT(t *testing.T) {
	ns := env.Namespace(t)
	fake := fakeingresse.New()
	fake.Put(testenv.SeedData(t, examples.EventCreate))
	// The JWT must outlive the manager's start on a busy machine; the test
	// waits for its expiry, so not by much.
	exp := time.Now().Add(40 * time.Second).Truncate(time.Second)
	jwt := fake.MintJWT(exp)
	opts, path := fakeManagerOptions(t, ns, fake, "jwt="+jwt+"\n", 0, "--receiver-verify-with-api", "--ingresse-resync-interval=0")
	m, err := env.StartManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("manager log:\n%s", m.Log())
		}
	})
	ctx, cancel := context.WithDeadline(context.Background(), exp)
	defer cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatalf("not ready before the JWT expired at %s (the machine may be too slow for this test): %v", exp.Format(time.RFC3339), err)
	}
	usable := func() float64 { return metric(t, m, "ingresse_api_credentials_usable", `use="event"`) }

	log := m.Log()
	if !strings.Contains(log, "The Ingresse JWT cannot be renewed") || !strings.Contains(log, `"expiresAt":"`+exp.UTC().Format(time.RFC3339)+`"`) {
		t.Errorf("no warning saying the JWT cannot be renewed and expires at %s:\n%s", exp.UTC().Format(time.RFC3339), log)
	}
	if strings.Contains(log, jwt) {
		t.Error("the log holds the JWT")
	}
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, examples.EventCreate); code != http.StatusCreated {
		t.Fatalf("a delivery before the JWT expired: HTTP %d %v", code, answer)
	}
	if got := usable(); got != 1 {
		t.Errorf("ingresse_api_credentials_usable{use=event} = %v before the expiry, want 1", got)
	}

	eventually(t, 2*time.Minute, "not ready once the JWT expired", func() error {
		if testenv.Ready(m.ProbeURL) {
			return fmt.Errorf("still ready (the JWT expires at %s)", exp.Format(time.RFC3339))
		}
		return nil
	})
	if got := usable(); got != 0 {
		t.Errorf("ingresse_api_credentials_usable{use=event} = %v after the expiry, want 0", got)
	}
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, examples.EventCreate); code != http.StatusServiceUnavailable {
		t.Errorf("a delivery after the JWT expired: HTTP %d %v, want 503", code, answer)
	}
	if !strings.Contains(m.Log(), "Not ready: deliveries cannot be verified") {
		t.Error("the log does not say why the receiver is not ready")
	}

	// The Secret gets credentials that renew JWTs.
	if err := os.WriteFile(path+".new", []byte(fake.Credentials()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "ready again after the rotation", func() error {
		if !testenv.Ready(m.ProbeURL) {
			return fmt.Errorf("not ready")
		}
		return nil
	})
	if got := usable(); got != 1 {
		t.Errorf("ingresse_api_credentials_usable{use=event} = %v after the rotation, want 1", got)
	}
	if code, answer := deliver(t, m.ReceiverURL, resyncToken, examples.EventCreate); code/100 != 2 {
		t.Errorf("a delivery after the rotation: HTTP %d %v, want 2xx", code, answer)
	}
}
