package ingresseapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingresse-operator/ingresse-operator/internal/fakeingresse"
	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
)

// producerID is the fixture's producer.
const producerID = 297229

// env is a client pointed at a server, the fake unless a test gives its
// own handler.
type env struct {
	fake      *fakeingresse.Fake
	srv       *httptest.Server
	client    *ingresseapi.Client
	reg       *prometheus.Registry
	credsPath string
	logs      *logBuffer
	// seen records every request the server received.
	seen *requestLog
}

// newEnv starts the fake and a client of it with fast retries; opts may
// change the options and the credentials file's content before New.
func newEnv(t *testing.T, opts func(*ingresseapi.Options, *string)) *env {
	t.Helper()
	f := fakeingresse.New()
	return newEnvWith(t, f, f.Handler(), f.Credentials(), opts)
}

func newEnvWith(t *testing.T, f *fakeingresse.Fake, h http.Handler, creds string, opts func(*ingresseapi.Options, *string)) *env {
	t.Helper()
	e := &env{fake: f, reg: prometheus.NewRegistry(), logs: &logBuffer{}, seen: &requestLog{}}
	e.srv = httptest.NewServer(e.seen.wrap(h))
	t.Cleanup(e.srv.Close)
	e.credsPath = filepath.Join(t.TempDir(), "credentials")
	o := ingresseapi.Options{
		CredentialsFile: e.credsPath,
		APIURL:          e.srv.URL + "/api",
		EventURL:        e.srv.URL + "/event",
		SearchURL:       e.srv.URL + "/event-search",
		ProducerID:      producerID,
		QPS:             1000,
		Timeout:         5 * time.Second,
		MaxBackoff:      5 * time.Millisecond,
	}
	if opts != nil {
		opts(&o, &creds)
	}
	e.writeCredentials(t, creds)
	c, err := ingresseapi.New(o, e.reg, e.logs.logger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.client = c
	t.Cleanup(func() { e.logs.assertNoCredential(t, creds) })
	return e
}

// writeCredentials replaces the credentials file the way a Secret volume
// is updated: a new file renamed over the old.
func (e *env) writeCredentials(t *testing.T, content string) {
	t.Helper()
	tmp := e.credsPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, e.credsPath); err != nil {
		t.Fatal(err)
	}
}

// metric is the value of the series of name with exactly labels; 0 when
// absent.
func (e *env) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// fixture reads a file of testdata.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compact is a JSON document without insignificant white space.
func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return buf.String()
}

// withoutKey removes a key's line from a credentials file.
func withoutKey(creds, key string) string {
	var out []string
	for _, line := range strings.Split(creds, "\n") {
		if !strings.HasPrefix(line, key+"=") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// logBuffer collects log lines, V(1) included.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.lines = append(b.lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 1})
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// assertNoCredential fails when a log line holds a credential: the fake's,
// or a value of the file the test wrote.
func (b *logBuffer) assertNoCredential(t *testing.T, creds string) {
	t.Helper()
	logs := b.String()
	secrets := []string{fakeingresse.APIKey, fakeingresse.UserToken, "fake-jwt-"}
	for _, line := range strings.Split(creds, "\n") {
		if _, v, ok := strings.Cut(line, "="); ok && len(strings.TrimSpace(v)) >= 4 {
			secrets = append(secrets, strings.TrimSpace(v))
		}
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a log line holds a credential (%.6s...):\n%s", s, logs)
		}
	}
}

// requestLog records the requests a server received.
type requestLog struct {
	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	at            time.Time
	path          string
	query         map[string][]string
	authorization string
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, seenRequest{at: time.Now(), path: r.URL.Path, query: r.URL.Query(), authorization: r.Header.Get("Authorization")})
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// with returns the requests whose path starts with prefix.
func (l *requestLog) with(prefix string) []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []seenRequest
	for _, r := range l.reqs {
		if strings.HasPrefix(r.path, prefix) {
			out = append(out, r)
		}
	}
	return out
}
