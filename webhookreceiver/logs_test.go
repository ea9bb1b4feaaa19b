package webhookreceiver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// TestTokensNeverLeak sends deliveries with good and bad tokens in every
// form down every answer path, then searches the logs, the metrics, the
// answers and the Kubernetes Events for the token.
func TestTokensNeverLeak(t *testing.T) {
	ns := env.Namespace(t)
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

	eventually(t, "the Created event is recorded", func() bool { return eventReasons(t, ns, seedName)[eventReasonCreated] })
	list := &eventsv1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
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
	r := newReplica(t, env.Namespace(t), replicaConfig{})
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
