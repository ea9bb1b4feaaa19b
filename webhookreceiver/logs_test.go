package webhookreceiver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// TestTokensNeverLeak sends deliveries with good and bad tokens in every
// form down every answer path, then searches the logs, the metrics, the
// answers and the Kubernetes Events for the token.
func TestTokensNeverLeak(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{opts: func(o *Options) { o.MaxBodyBytes = 4096 }})
	nearMiss := testToken + "-but-wrong"
	var answers []string
	send := func(method, target string, body []byte, edit ...func(*http.Request)) {
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for _, e := range edit {
			e(req)
		}
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, req)
		answers = append(answers, rec.Body.String()+" "+strings.Join(rec.Header().Values("WWW-Authenticate"), " "))
	}
	q := "?token=" + testToken
	send(http.MethodPost, webhookPath+q, examples.EventCreate)
	send(http.MethodPost, webhookPath, examples.EventUpdate, withBasic("ingresse", testToken))
	send(http.MethodPost, webhookPath, examples.EventCreate, setHeader("Authorization", "Bearer "+testToken))
	send(http.MethodPost, webhookPath+"?token="+nearMiss, examples.EventCreate)
	send(http.MethodPost, webhookPath, examples.EventCreate, setHeader("Authorization", "Bearer "+nearMiss))
	send(http.MethodPost, webhookPath, examples.EventCreate, withBasic(testToken, nearMiss))
	send(http.MethodGet, webhookPath+q, nil)
	send(http.MethodPost, "/elsewhere"+q, nil)
	send(http.MethodPost, webhookPath+"/"+testToken, examples.EventCreate)
	send(http.MethodPost, "/"+testToken+webhookPath, examples.EventCreate)
	send(http.MethodPost, webhookPath+q, []byte(`{"webhook":"event-create","data":{"id":"`+testToken+`"}}`))
	send(http.MethodPost, webhookPath+q, bytes.Repeat([]byte(" "), 5000))
	send(http.MethodPost, webhookPath+q, examples.EventCreate, setHeader("Content-Type", "text/plain"))
	send(http.MethodPost, webhookPath+q, ticketBody)

	logs := r.logs.String()
	for _, want := range []string{`"outcome"="created"`, `"eventID"=21447`, `"outcome"="unauthorized"`, `"outcome"="not_found"`, `"path"="/webhooks/ingresse"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %s:\n%s", want, logs)
		}
	}
	check := func(where, text string) {
		t.Helper()
		if strings.Contains(text, testToken) || strings.Contains(text, "token=") {
			t.Errorf("the %s hold the token:\n%s", where, text)
		}
	}
	check("logs", logs)
	check("answers", strings.Join(answers, "\n"))

	families, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
		}
	}
	check("metric labels", strings.Join(labels, "\n"))

	eventually(t, "the Created event is recorded", func() bool { return eventReasons(t, ns, seedName)[eventstore.EventReasonCreated] })
	list := &eventsv1.EventList{}
	if err := controlPlane(t).Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range list.Items {
		notes = append(notes, e.Reason+" "+e.Note)
	}
	check("Kubernetes Events", strings.Join(notes, "\n"))
}

// TestUnauthenticatedFloodIsSampledInTheLog: anyone can send requests with
// no token as fast as they like; each is counted in requests_total, but the
// log gets a few lines a second, the next of which says how many it left
// out.
func TestUnauthenticatedFloodIsSampledInTheLog(t *testing.T) {
	r := newHTTPReplica(t, replicaConfig{})
	const flood = 50
	for range flood {
		expect(t, r.post(t, examples.EventCreate, noAuth), http.StatusUnauthorized, "credentials")
	}
	if n := metricValue(t, r.reg, "ingresse_receiver_requests_total", map[string]string{"outcome": outcomeUnauthorized}); n != flood {
		t.Fatalf("unauthorized requests counted %v, want %d", n, flood)
	}
	lines := strings.Count(r.logs.String(), `"outcome"="unauthorized"`)
	if lines < 1 || lines > refusalLogBurst+2 {
		t.Fatalf("%d log lines for %d refused requests, want between 1 and %d", lines, flood, refusalLogBurst+2)
	}
	time.Sleep(time.Second + time.Second/refusalLogsPerSecond)
	expect(t, r.post(t, examples.EventCreate, noAuth), http.StatusUnauthorized, "credentials")
	if want := fmt.Sprintf(`"similarSuppressed"=%d`, flood-lines); !strings.Contains(r.logs.String(), want) {
		t.Fatalf("the next line does not say %s:\n%s", want, r.logs)
	}
}

// TestEveryUnauthenticatedRefusalIsSampled: every refusal a sender without
// a token or a valid signature can cause (path, method, source,
// credentials, and the size, content type or body of a delivery whose
// signature is not checked yet) shares the sampled log, while each is
// counted in requests_total; a refusal of an authenticated delivery is
// still logged, one line each.
func TestEveryUnauthenticatedRefusalIsSampled(t *testing.T) {
	signer := newSigner(t)
	secrets := filepath.Join(t.TempDir(), "signing")
	writeFile(t, secrets, signer.secret()+"\n")
	const limit = 4096
	r := newHTTPReplica(t, replicaConfig{opts: func(o *Options) {
		o.SigningSecretFile = secrets
		o.MaxBodyBytes = limit
		o.AllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} // httptest's RemoteAddr
	}})
	now := time.Now()
	large := bytes.Repeat([]byte(" "), limit+1)
	signed := func(body []byte) func(*http.Request) { return signer.headers("msg_1", now, body) }
	chunked := func(req *http.Request) { req.ContentLength = -1 }

	for _, tc := range []struct {
		name, method, path string
		body               []byte
		edit               []func(*http.Request)
		code               int
	}{
		{"another path", http.MethodPost, "/webhooks/other", examples.EventCreate, nil, http.StatusNotFound},
		{"another method", http.MethodGet, webhookPath, nil, nil, http.StatusMethodNotAllowed},
		{"a source not allowed", http.MethodPost, webhookPath, examples.EventCreate,
			[]func(*http.Request){func(req *http.Request) { req.RemoteAddr = "198.51.100.7:5000" }}, http.StatusForbidden},
		{"no credentials", http.MethodPost, webhookPath, examples.EventCreate, []func(*http.Request){noAuth}, http.StatusUnauthorized},
		{"a wrong token", http.MethodPost, webhookPath, examples.EventCreate,
			[]func(*http.Request){setHeader("Authorization", "Bearer not-the-token")}, http.StatusUnauthorized},
		{"a signature too old", http.MethodPost, webhookPath, examples.EventCreate,
			[]func(*http.Request){noAuth, signer.headers("msg_1", now.Add(-time.Hour), examples.EventCreate)}, http.StatusUnauthorized},
		{"signed, declared too large", http.MethodPost, webhookPath, large, []func(*http.Request){noAuth, signed(large)}, http.StatusRequestEntityTooLarge},
		{"signed, chunked and too large", http.MethodPost, webhookPath, large, []func(*http.Request){noAuth, signed(large), chunked}, http.StatusRequestEntityTooLarge},
		{"signed, not JSON", http.MethodPost, webhookPath, examples.EventCreate,
			[]func(*http.Request){noAuth, signed(examples.EventCreate), setHeader("Content-Type", "text/plain")}, http.StatusUnsupportedMediaType},
		{"signed, another charset", http.MethodPost, webhookPath, examples.EventCreate,
			[]func(*http.Request){noAuth, signed(examples.EventCreate), setHeader("Content-Type", "application/json; charset=latin1")}, http.StatusUnsupportedMediaType},
		{"signed, a body the signature does not cover", http.MethodPost, webhookPath, []byte(`{"webhook":"x"}`),
			[]func(*http.Request){noAuth, signed(examples.EventCreate)}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const flood = 25
			before := strings.Count(r.logs.String(), `"Webhook refused"`)
			start := time.Now()
			for range flood {
				req := httptest.NewRequest(tc.method, tc.path, bytes.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+testToken)
				for _, e := range tc.edit {
					e(req)
				}
				rec := httptest.NewRecorder()
				r.srv.Handler().ServeHTTP(rec, req)
				if rec.Code != tc.code {
					t.Fatalf("answer %d %s, want %d", rec.Code, rec.Body, tc.code)
				}
			}
			outcome := asHTTPError(errorForCode(t, tc.code)).outcome
			if n := metricValue(t, r.reg, "ingresse_receiver_requests_total", map[string]string{"outcome": outcome}); n < flood {
				t.Fatalf("requests_total{outcome=%q} is %v after %d refusals", outcome, n, flood)
			}
			// The sampler lets a burst through, then one line a second.
			allowed := refusalLogBurst + int(time.Since(start).Seconds()*refusalLogsPerSecond) + 1
			if lines := strings.Count(r.logs.String(), `"Webhook refused"`) - before; lines > allowed {
				t.Fatalf("%d log lines for %d refusals, want at most %d:\n%s", lines, flood, allowed, r.logs)
			}
		})
	}

	t.Run("an authenticated delivery's refusal is logged each time", func(t *testing.T) {
		const n = 3 * refusalLogBurst
		before := strings.Count(r.logs.String(), `"outcome"="bad_request"`)
		for range n {
			expect(t, r.post(t, []byte(`{"webhook":"event-create","data":{}}`)), http.StatusBadRequest, "data.id")
		}
		if lines := strings.Count(r.logs.String(), `"outcome"="bad_request"`) - before; lines != n {
			t.Fatalf("%d log lines for %d refused authenticated deliveries, want one each", lines, n)
		}
	})
}

// errorForCode is the receiver's own refusal with that status code, for
// its metric outcome.
func errorForCode(t *testing.T, code int) error {
	t.Helper()
	switch code {
	case http.StatusNotFound:
		return errNotFound()
	case http.StatusMethodNotAllowed:
		return errMethodNotAllowed("GET")
	case http.StatusForbidden:
		return errForbiddenSource()
	case http.StatusUnauthorized:
		return errUnauthorized("")
	case http.StatusRequestEntityTooLarge:
		return errTooLarge(0)
	case http.StatusUnsupportedMediaType:
		return errUnsupportedMediaType("")
	}
	t.Fatalf("no refusal with code %d", code)
	return nil
}
