package webhookreceiver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// The receiver is a manager Runnable that runs on every replica.
var _ manager.LeaderElectionRunnable = &Server{}

// TestGracefulShutdown: readiness turns false as soon as shutdown begins,
// while a delivery that started before is still in flight, and that
// delivery is answered and stored before Start returns.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	block := &interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		close(entered)
		<-release
		return c.Create(ctx, obj, opts...)
	}}
	r := newHTTPReplica(t, replicaConfig{client: block, noStart: true, opts: func(o *Options) {
		o.RequestTimeout = 20 * time.Second
		o.WriteTimeout = 30 * time.Second
	}})
	if r.srv.ReadyzCheck(nil) == nil {
		t.Fatal("ready before Start")
	}
	if r.srv.NeedLeaderElection() {
		t.Fatal("the receiver must run on every replica, not only the leader")
	}
	r.start(t)

	type result struct {
		code int
		body string
		err  error
	}
	answered := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.srv.listenAddr()+webhookPath+"?token="+testToken, bytes.NewReader(examples.EventCreate))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-entered

	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	eventually(t, "readiness turns false", func() bool { return r.srv.ReadyzCheck(nil) != nil })
	if err := r.srv.ReadyzCheck(nil); !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("readiness says %v", err)
	}
	select {
	case res := <-answered:
		t.Fatalf("the delivery was answered before it was released: %+v", res)
	case err := <-stopped:
		t.Fatalf("Start returned (%v) with a delivery in flight", err)
	default:
	}

	close(release)
	res := <-answered
	if res.err != nil || res.code != http.StatusCreated {
		t.Fatalf("the in-flight delivery got %+v, want 201", res)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Start: %v", err)
	}
	if r.get(t, seedName) == nil {
		t.Fatal("answered 201 but not stored")
	}
	if resp, err := http.Post("http://"+r.srv.listenAddr()+webhookPath, "application/json", nil); err == nil {
		resp.Body.Close()
		t.Fatal("still accepting connections after Start returned")
	}
}

// TestShutdownDelayKeepsIdleConnections: during the shutdown delay a
// sender (or an ingress's upstream pool) may still reuse a keep-alive
// connection it holds. The receiver must not close idle connections under
// it, which would reset a POST that Go's and most clients never retry;
// it answers as usual and closes each connection after its next answer.
func TestShutdownDelayKeepsIdleConnections(t *testing.T) {
	r := newHTTPReplica(t, replicaConfig{opts: func(o *Options) { o.ShutdownDelay = 3 * time.Second }})
	c, err := net.Dial("tcp", r.srv.listenAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	conn := bufio.NewReader(c)
	// send returns the answer's status and whether it closes the
	// connection.
	send := func() (int, bool) {
		t.Helper()
		req := "POST " + webhookPath + " HTTP/1.1\r\nHost: receiver\r\nAuthorization: Bearer " + testToken +
			"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(ticketBody)) + "\r\n\r\n" + string(ticketBody)
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatalf("writing on the kept-alive connection: %v", err)
		}
		resp, err := http.ReadResponse(conn, nil)
		if err != nil {
			t.Fatalf("reading the answer on the kept-alive connection: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Close
	}
	if code, closes := send(); code != http.StatusAccepted || closes {
		t.Fatalf("before shutdown: %d, close %v", code, closes)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	eventually(t, "readiness turns false", func() bool { return r.srv.ReadyzCheck(nil) != nil })
	time.Sleep(300 * time.Millisecond) // the connection sits idle into the delay
	code, closes := send()
	if code != http.StatusAccepted {
		t.Fatalf("during the shutdown delay: %d", code)
	}
	if !closes {
		t.Error("the answer during the shutdown delay does not close the connection")
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func TestOptionsDefault(t *testing.T) {
	var o Options
	o.Default()
	want := Options{
		BindAddress: ":8082", MaxBodyBytes: 1 << 20, MaxInFlight: 128, RequestTimeout: 5 * time.Second,
		ShutdownDelay: 5 * time.Second, ShutdownTimeout: 25 * time.Second, TokenReloadInterval: 10 * time.Second,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 90 * time.Second, MaxHeaderBytes: 16 << 10,
	}
	if o.BindAddress != want.BindAddress || o.MaxBodyBytes != want.MaxBodyBytes || o.MaxInFlight != want.MaxInFlight ||
		o.RequestTimeout != want.RequestTimeout || o.ShutdownDelay != want.ShutdownDelay || o.ShutdownTimeout != want.ShutdownTimeout ||
		o.TokenReloadInterval != want.TokenReloadInterval || o.ReadHeaderTimeout != want.ReadHeaderTimeout ||
		o.ReadTimeout != want.ReadTimeout || o.WriteTimeout != want.WriteTimeout || o.IdleTimeout != want.IdleTimeout ||
		o.MaxHeaderBytes != want.MaxHeaderBytes {
		t.Fatalf("Default() = %+v, want %+v", o, want)
	}
	// Default only fills zero fields.
	o = Options{MaxInFlight: 3, RequestTimeout: time.Second}
	o.Default()
	if o.MaxInFlight != 3 || o.RequestTimeout != time.Second {
		t.Fatalf("Default() overwrote set fields: %+v", o)
	}
}

// TestNewRefusesUnsafeConfigurations: the receiver does not start without
// credentials unless told to, nor with options that cannot work. These
// tests make no Kubernetes claim, so the client is a fake.
func TestNewRefusesUnsafeConfigurations(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	writeFile(t, tokens, testToken+"\n")
	comments := filepath.Join(dir, "comments")
	writeFile(t, comments, "# no token yet\n\n")
	secrets := filepath.Join(dir, "secrets")
	writeFile(t, secrets, newSigner(t).secret()+"\n")
	badSecrets := filepath.Join(dir, "bad-secrets")
	writeFile(t, badSecrets, "not-a-whsec-secret\n")

	base := func() Options {
		o := Options{Namespace: "ingresse-system"}
		o.Default()
		return o
	}
	c := fake.NewClientBuilder().WithScheme(testenv.Scheme).Build()
	for _, tc := range []struct {
		name    string
		edit    func(*Options)
		wantErr string
	}{
		{"tokens", func(o *Options) { o.TokenFile = tokens }, ""},
		{"signing secrets only", func(o *Options) { o.SigningSecretFile = secrets }, ""},
		{"nothing, explicitly insecure", func(o *Options) { o.InsecureSkipAuth = true }, ""},
		{"missing token file, explicitly insecure", func(o *Options) { o.TokenFile = filepath.Join(dir, "missing"); o.InsecureSkipAuth = true }, ""},
		{"no credentials", func(o *Options) {}, "no webhook credentials"},
		{"missing token file", func(o *Options) { o.TokenFile = filepath.Join(dir, "missing") }, "no such file"},
		{"token file with no token: starts, refusing every delivery", func(o *Options) { o.TokenFile = comments }, ""},
		{"bad signing secret", func(o *Options) { o.TokenFile = tokens; o.SigningSecretFile = badSecrets }, "secret 1 does not start with whsec_"},
		{"no namespace", func(o *Options) { o.TokenFile = tokens; o.Namespace = "" }, "a namespace is required"},
		{"options not defaulted", func(o *Options) { *o = Options{Namespace: "x", TokenFile: tokens} }, "need Options.Default"},
		{"write timeout within the request timeout", func(o *Options) { o.TokenFile = tokens; o.WriteTimeout = o.RequestTimeout }, "write timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.edit(&o)
			srv, err := New(o, c, c, nil, prometheus.NewRegistry(), logr.Discard())
			if tc.wantErr == "" {
				if err != nil || srv == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: %v, want an error saying %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatal("the error holds a token")
			}
		})
	}

	t.Run("metrics registered twice", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		o := base()
		o.TokenFile = tokens
		if _, err := New(o, c, c, nil, reg, logr.Discard()); err != nil {
			t.Fatal(err)
		}
		if _, err := New(o, c, c, nil, reg, logr.Discard()); err == nil {
			t.Fatal("a second receiver on the same registry must fail, not lose its metrics")
		}
	})

	t.Run("insecure: accepted without a token, signed or not", func(t *testing.T) {
		o := base()
		o.InsecureSkipAuth = true
		srv, err := New(o, c, c, nil, nil, logr.Discard())
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, webhookPath, bytes.NewReader(ticketBody))
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		expect(t, rec, http.StatusAccepted, outcomeIgnored)
	})
}

// switchableSource is an EventSource whose CanReadEvents a test sets; it
// reads no event.
type switchableSource struct{ cannot atomic.Pointer[error] }

func (s *switchableSource) Event(context.Context, int64) (json.RawMessage, error) {
	return nil, errors.New("switchableSource reads no event")
}

func (s *switchableSource) CanReadEvents() error {
	if err := s.cannot.Load(); err != nil {
		return *err
	}
	return nil
}

// TestNotReadyWhileDeliveriesCannotBeVerified: in verified mode the
// receiver is ready only while its verifier can read events; the change is
// logged once each way, not at every probe.
func TestNotReadyWhileDeliveriesCannotBeVerified(t *testing.T) {
	src := &switchableSource{}
	r := newHTTPReplica(t, replicaConfig{opts: func(o *Options) { o.VerifyWith = src }})
	if err := r.srv.ReadyzCheck(nil); err != nil {
		t.Fatalf("a verifier that can read: not ready: %v", err)
	}

	cause := errors.New("reading an event (verified deliveries) needs jwt or usertoken+apikey in /c, which holds only jwt expired at 2026-01-01T00:00:00Z")
	src.cannot.Store(&cause)
	for range 3 {
		err := r.srv.ReadyzCheck(nil)
		if err == nil || !errors.Is(err, cause) || !strings.Contains(err.Error(), "cannot verify deliveries") {
			t.Fatalf("a verifier that cannot read: readiness %v", err)
		}
	}
	if n := strings.Count(r.logs.String(), "Not ready: deliveries cannot be verified"); n != 1 {
		t.Errorf("logged %d times that deliveries cannot be verified, want once:\n%s", n, r.logs)
	}

	src.cannot.Store(nil)
	for range 2 {
		if err := r.srv.ReadyzCheck(nil); err != nil {
			t.Fatalf("the verifier can read again: readiness %v", err)
		}
	}
	if n := strings.Count(r.logs.String(), "Ready again: deliveries can be verified"); n != 1 {
		t.Errorf("logged %d times that deliveries can be verified again, want once:\n%s", n, r.logs)
	}
}

// TestNotReadyUntilEventsCanBeRead: a receiver that cannot read
// IngresseEvents (the API server unreachable, or RBAC not there yet) is not
// ready and says why in its log; it becomes ready by itself once the read
// works, retrying with a backoff rather than once per probe.
func TestNotReadyUntilEventsCanBeRead(t *testing.T) {
	var reads atomic.Int32
	const failures = 2
	denied := &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if reads.Add(1) <= failures {
			return apierrors.NewForbidden(schema.GroupResource{Group: "events.ingresse.com", Resource: "ingresseevents"}, key.Name, errors.New("RBAC not there yet"))
		}
		return c.Get(ctx, key, obj, opts...)
	}}
	r := newHTTPReplica(t, replicaConfig{reader: denied, noStart: true})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.stopped = cancel, make(chan error, 1)
	go func() { r.stopped <- r.srv.Start(ctx) }()
	t.Cleanup(func() { _ = r.stop() })

	eventually(t, "the first read is refused", func() bool { return reads.Load() >= 1 })
	if err := r.srv.ReadyzCheck(nil); err == nil {
		t.Fatal("ready while IngresseEvents cannot be read")
	}
	eventually(t, "the receiver is ready once the read works", func() bool { return r.srv.ReadyzCheck(nil) == nil })
	if n := reads.Load(); n != failures+1 {
		t.Errorf("%d reads before ready, want %d: one per attempt", n, failures+1)
	}
	if logs := r.logs.String(); strings.Count(logs, "Cannot read IngresseEvents yet") != failures {
		t.Errorf("want %d not-ready log lines, got:\n%s", failures, logs)
	}
	expect(t, r.post(t, examples.EventCreate), http.StatusCreated, outcomeCreated)
}
