package webhookreceiver

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// ticketBody is a webhook that authenticates like any other but is only
// acknowledged, so auth tests do not depend on storing.
var ticketBody = []byte(`{"webhook":"ticket","data":{"id":5,"name":"Pista","eventId":21447},"timestamp":"2019-03-12T19:32:46Z"}`)

// readTracker records whether a body was read.
type readTracker struct {
	r    io.Reader
	read atomic.Bool
}

func (t *readTracker) Read(p []byte) (int, error) {
	t.read.Store(true)
	return t.r.Read(p)
}

func withBody(t *readTracker) func(*http.Request) {
	return func(r *http.Request) { r.Body = io.NopCloser(t) }
}

func setHeader(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func noAuth(r *http.Request) { r.Header.Del("Authorization") }

func withQuery(q string) func(*http.Request) {
	return func(r *http.Request) { r.URL.RawQuery = q }
}

func withBasic(user, password string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, password) }
}

func TestTokenAuthentication(t *testing.T) {
	r := newHTTPReplica(t, replicaConfig{})
	cases := []struct {
		name string
		edit []func(*http.Request)
		ok   bool
	}{
		{"bearer", nil, true},
		{"bearer, scheme in lower case", []func(*http.Request){setHeader("Authorization", "bearer "+testToken)}, true},
		{"basic, token as password, any user", []func(*http.Request){withBasic("ingresse", testToken)}, true},
		{"basic, empty user", []func(*http.Request){withBasic("", testToken)}, true},
		{"query", []func(*http.Request){noAuth, withQuery("token=" + testToken)}, true},
		{"query among other parameters", []func(*http.Request){noAuth, withQuery("a=1&token=" + testToken + "&b=%zz")}, true},
		{"wrong bearer, right query", []func(*http.Request){setHeader("Authorization", "Bearer nope"), withQuery("token=" + testToken)}, true},

		{"no credentials", []func(*http.Request){noAuth}, false},
		{"wrong bearer", []func(*http.Request){setHeader("Authorization", "Bearer not-the-token")}, false},
		{"token in another case", []func(*http.Request){setHeader("Authorization", "Bearer "+strings.ToUpper(testToken))}, false},
		{"token prefix", []func(*http.Request){setHeader("Authorization", "Bearer "+testToken[:len(testToken)-1])}, false},
		{"token with a suffix", []func(*http.Request){setHeader("Authorization", "Bearer "+testToken+"x")}, false},
		{"empty bearer", []func(*http.Request){setHeader("Authorization", "Bearer ")}, false},
		{"unknown scheme", []func(*http.Request){setHeader("Authorization", "Token "+testToken)}, false},
		{"basic, token as user", []func(*http.Request){withBasic(testToken, "")}, false},
		{"basic, not base64", []func(*http.Request){setHeader("Authorization", "Basic "+testToken)}, false},
		{"query parameter in another case", []func(*http.Request){noAuth, withQuery("Token=" + testToken)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := &readTracker{r: bytes.NewReader(ticketBody)}
			rec := r.post(t, ticketBody, append(tc.edit, withBody(body))...)
			if tc.ok {
				expect(t, rec, http.StatusAccepted, outcomeIgnored)
				return
			}
			a := expect(t, rec, http.StatusUnauthorized, "missing or invalid credentials")
			if strings.Contains(a.Error, testToken) {
				t.Error("the answer holds the token")
			}
			if got := rec.Header().Values("WWW-Authenticate"); strings.Join(got, ", ") != `Basic realm="ingresse", Bearer realm="ingresse"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if body.read.Load() {
				t.Error("the body was read before the delivery was authenticated")
			}
		})
	}

	// And a delivery authenticated by the query is stored.
	expect(t, r.post(t, examples.EventCreate, noAuth, withQuery("token="+url.QueryEscape(testToken))), http.StatusCreated, outcomeCreated)
	if r.get(t, seedName) == nil {
		t.Fatal("not stored")
	}
	if n := metricValue(t, r.reg, "ingresse_receiver_requests_total", map[string]string{"outcome": outcomeUnauthorized, "webhook": webhookNone}); n != 10 {
		t.Errorf("unauthorized answers counted %v, want 10", n)
	}
}

// secretDir lays out a directory as the kubelet mounts a Secret: the file
// is a symlink through ..data to a timestamped directory, and an update
// swaps ..data atomically.
type secretDir struct {
	t    testing.TB
	dir  string
	n    int
	file string
}

func newSecretDir(t testing.TB, key, content string) *secretDir {
	s := &secretDir{t: t, dir: t.TempDir()}
	s.file = filepath.Join(s.dir, key)
	s.update(key, content)
	if err := os.Symlink(filepath.Join("..data", key), s.file); err != nil {
		t.Fatal(err)
	}
	return s
}

// update writes a new generation and swaps ..data to it.
func (s *secretDir) update(key, content string) {
	s.n++
	gen := filepath.Join(s.dir, "..gen"+strconv.Itoa(s.n))
	if err := os.Mkdir(gen, 0o700); err != nil {
		s.t.Fatal(err)
	}
	writeFile(s.t, filepath.Join(gen, key), content)
	tmp := filepath.Join(s.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(gen), tmp); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "..data")); err != nil {
		s.t.Fatal(err)
	}
}

// remove deletes ..data: the file disappears.
func (s *secretDir) remove() {
	if err := os.Remove(filepath.Join(s.dir, "..data")); err != nil {
		s.t.Fatal(err)
	}
}

// TestTokenRotation rotates the tokens the way a mounted Secret is
// updated, without restarting the receiver: a new token is picked up, the
// old one works during the overlap and stops working after it; a file that
// disappears keeps the last good tokens (and says so in a metric); a file
// emptied of tokens revokes them all.
func TestTokenRotation(t *testing.T) {
	const oldToken, newToken = "old-token-8d1f2c", "new-token-5b7e9a"
	secret := newSecretDir(t, "tokens", oldToken+"\n")
	r := newHTTPReplica(t, replicaConfig{opts: func(o *Options) { o.TokenFile = secret.file }})
	with := func(token string) int {
		return r.post(t, ticketBody, setHeader("Authorization", "Bearer "+token)).Code
	}
	if with(oldToken) != http.StatusAccepted || with(newToken) != http.StatusUnauthorized {
		t.Fatal("before rotation: the old token must work and the new one not")
	}

	secret.update("tokens", "# rotating\n"+newToken+"\r\n\n"+oldToken+"\n")
	eventually(t, "the new token works", func() bool { return with(newToken) == http.StatusAccepted })
	if with(oldToken) != http.StatusAccepted {
		t.Fatal("the old token stopped working during the overlap")
	}

	secret.update("tokens", newToken+"\n")
	eventually(t, "the old token stops working", func() bool { return with(oldToken) == http.StatusUnauthorized })

	token := map[string]string{"kind": "token"}
	if n := metricValue(t, r.reg, "ingresse_receiver_credentials", token); n != 1 {
		t.Fatalf("ingresse_receiver_credentials{kind=token} = %v, want 1", n)
	}
	loaded := metricValue(t, r.reg, "ingresse_receiver_credentials_loaded_timestamp_seconds", token)
	if loaded < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("the credentials' load time is %v", loaded)
	}

	secret.remove()
	eventually(t, "the failed reload is counted", func() bool {
		return metricValue(t, r.reg, "ingresse_receiver_credential_reloads_total", map[string]string{"result": "error"}) > 0 &&
			metricValue(t, r.reg, "ingresse_receiver_credentials_last_reload_successful", token) == 0
	})
	if with(newToken) != http.StatusAccepted {
		t.Fatal("a missing file dropped the last good tokens")
	}
	if n := metricValue(t, r.reg, "ingresse_receiver_credentials", token); n != 1 {
		t.Fatalf("ingresse_receiver_credentials{kind=token} = %v after a failed read, want 1", n)
	}

	secret.update("tokens", "# nothing but comments: every token revoked\n\n")
	eventually(t, "the emptied file revokes every token", func() bool { return with(newToken) == http.StatusUnauthorized })
	if n := metricValue(t, r.reg, "ingresse_receiver_credentials", token); n != 0 {
		t.Fatalf("ingresse_receiver_credentials{kind=token} = %v, want 0", n)
	}
	if metricValue(t, r.reg, "ingresse_receiver_credentials_last_reload_successful", token) != 1 {
		t.Fatal("the read of the emptied file is not reported as successful")
	}
	if !strings.Contains(r.logs.String(), "Every credential of this kind is revoked") {
		t.Fatalf("no log line says every token is revoked:\n%s", r.logs)
	}
	for _, token := range []string{oldToken, newToken} {
		if strings.Contains(r.logs.String(), token) {
			t.Fatalf("a token is in the logs:\n%s", r.logs)
		}
	}
}

// signer signs deliveries the Standard Webhooks way.
type signer struct{ key []byte }

func newSigner(t testing.TB) signer {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return signer{key}
}

func (s signer) secret() string {
	return signingSecretPrefix + base64.StdEncoding.EncodeToString(s.key)
}

func (s signer) signature(id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(sign(s.key, id, strconv.FormatInt(ts.Unix(), 10), body))
}

// headers signs body at ts with SignatureHeaders, as a sender would.
func (s signer) headers(id string, ts time.Time, body []byte) func(*http.Request) {
	return func(r *http.Request) {
		h, err := SignatureHeaders(s.secret(), id, ts, body)
		if err != nil {
			panic(err)
		}
		for k, v := range h {
			r.Header[k] = v
		}
	}
}

func TestSignatures(t *testing.T) {
	current, previous, stranger := newSigner(t), newSigner(t), newSigner(t)
	dir := t.TempDir()
	secrets := filepath.Join(dir, "signing")
	writeFile(t, secrets, "# current, then the one being retired\n"+current.secret()+"\n"+previous.secret()+"\n")
	r := newHTTPReplica(t, replicaConfig{opts: func(o *Options) { o.SigningSecretFile = secrets }})
	now := time.Now()
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	tampered := bytes.Replace(ticketBody, []byte("Pista"), []byte("Camarote"), 1)

	cases := []struct {
		name string
		body []byte
		edit []func(*http.Request)
		ok   bool
	}{
		{"valid, no token", ticketBody, []func(*http.Request){noAuth, current.headers(id, now, ticketBody)}, true},
		{"valid with the previous secret", ticketBody, []func(*http.Request){noAuth, previous.headers(id, now, ticketBody)}, true},
		{"valid, with a wrong token", ticketBody, []func(*http.Request){setHeader("Authorization", "Bearer wrong"), current.headers(id, now, ticketBody)}, true},
		{"valid among several signatures", ticketBody, []func(*http.Request){noAuth, current.headers(id, now, ticketBody), func(r *http.Request) {
			r.Header.Set(headerWebhookSignature, "v1,bm90IGl0 "+stranger.signature(id, now, ticketBody)+" "+r.Header.Get(headerWebhookSignature))
		}}, true},
		{"4 minutes old", ticketBody, []func(*http.Request){noAuth, current.headers(id, now.Add(-4*time.Minute), ticketBody)}, true},
		{"an event, signed", examples.EventCreate, []func(*http.Request){noAuth, current.headers(id, now, examples.EventCreate)}, true},

		{"unknown secret, with a valid token", ticketBody, []func(*http.Request){stranger.headers(id, now, ticketBody)}, false},
		{"6 minutes old", ticketBody, []func(*http.Request){noAuth, current.headers(id, now.Add(-6*time.Minute), ticketBody)}, false},
		{"6 minutes ahead", ticketBody, []func(*http.Request){noAuth, current.headers(id, now.Add(6*time.Minute), ticketBody)}, false},
		{"body changed after signing", tampered, []func(*http.Request){noAuth, current.headers(id, now, ticketBody)}, false},
		{"id changed after signing", ticketBody, []func(*http.Request){noAuth, current.headers(id, now, ticketBody), setHeader(headerWebhookID, "msg_other")}, false},
		{"no id, with a valid token", ticketBody, []func(*http.Request){current.headers(id, now, ticketBody), func(r *http.Request) { r.Header.Del(headerWebhookID) }}, false},
		{"timestamp not a number", ticketBody, []func(*http.Request){noAuth, current.headers(id, now, ticketBody), setHeader(headerWebhookTimestamp, now.Format(time.RFC3339))}, false},
		{"not a v1 signature", ticketBody, []func(*http.Request){noAuth, current.headers(id, now, ticketBody), func(r *http.Request) {
			r.Header.Set(headerWebhookSignature, "v1a,"+strings.TrimPrefix(r.Header.Get(headerWebhookSignature), "v1,"))
		}}, false},
		{"signature not base64", ticketBody, []func(*http.Request){noAuth, current.headers(id, now, ticketBody), setHeader(headerWebhookSignature, "v1,!!!")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := r.post(t, tc.body, tc.edit...)
			switch {
			case !tc.ok:
				expect(t, rec, http.StatusUnauthorized, "invalid webhook signature")
			case bytes.Equal(tc.body, ticketBody):
				expect(t, rec, http.StatusAccepted, outcomeIgnored)
			default:
				expect(t, rec, http.StatusCreated, outcomeCreated)
			}
		})
	}

	t.Run("signature headers where no signing secret is configured", func(t *testing.T) {
		plain := newHTTPReplica(t, replicaConfig{})
		expect(t, plain.post(t, ticketBody, current.headers(id, now, ticketBody)), http.StatusAccepted, outcomeIgnored)
		expect(t, plain.post(t, ticketBody, noAuth, current.headers(id, now, ticketBody)), http.StatusUnauthorized, "credentials")
	})
}

func TestSignatureHeadersRefusesBadSecrets(t *testing.T) {
	for _, secret := range []string{"", "whsec_", "whsec_!!!", "c2VjcmV0", "whsec_c2VjcmV0\nwhsec_c2VjcmV0"} {
		if _, err := SignatureHeaders(secret, "msg_1", time.Now(), nil); err == nil {
			t.Errorf("secret %q accepted", secret)
		}
	}
	if _, err := SignatureHeaders(newSigner(t).secret(), "", time.Now(), nil); err == nil {
		t.Error("signed without a message id")
	}
}

// TestUnverifiedSendersCannotHoldTheSlots: with signing secrets
// configured, anyone can send signature headers that look fresh, and
// nothing says they hold a secret until the body is read. Slow senders of
// such requests, three times as many as --receiver-max-in-flight, get the
// small share of slots kept for unverified bodies (the rest are turned away
// at once) and are cut off at the short deadline; a delivery with a token
// still gets a slot and is stored.
func TestUnverifiedSendersCannotHoldTheSlots(t *testing.T) {
	secrets := filepath.Join(t.TempDir(), "signing")
	writeFile(t, secrets, newSigner(t).secret()+"\n")
	const slots = 4
	r := newHTTPReplica(t, replicaConfig{opts: func(o *Options) {
		o.SigningSecretFile = secrets
		o.MaxInFlight = slots
		o.ReadTimeout = 2 * time.Second
	}})
	stranger := newSigner(t)
	body := examples.EventCreate
	var headers bytes.Buffer
	fmt.Fprintf(&headers, "POST %s HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", webhookPath, len(body))
	h, err := SignatureHeaders(stranger.secret(), "msg_slow", time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	for k := range h {
		fmt.Fprintf(&headers, "%s: %s\r\n", k, h.Get(k))
	}
	headers.WriteString("\r\n")

	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 3 * slots {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", r.srv.listenAddr(), 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer func() { _ = c.Close() }()
			_ = c.SetDeadline(time.Now().Add(15 * time.Second))
			if _, err := c.Write(headers.Bytes()); err != nil {
				t.Error(err)
				return
			}
			// One byte every 100ms: the whole body would take minutes.
			go func() {
				for _, b := range body {
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodPost})
			code := 0 // closed unanswered
			if err == nil {
				code = resp.StatusCode
				_ = resp.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	time.Sleep(500 * time.Millisecond) // the slow senders are in
	expect(t, r.post(t, body), http.StatusCreated, outcomeCreated)
	wg.Wait()
	share := max(1, slots/unverifiedShare)
	if codes[http.StatusServiceUnavailable] != 3*slots-share || codes[http.StatusRequestTimeout] != share {
		t.Errorf("the slow senders were answered %v: want %d answered 503 at once and the %d in the unverified share 408", codes, 3*slots-share, share)
	}
	for code := range codes {
		if code >= 200 && code < 300 {
			t.Errorf("a slow sender with a stranger's signature was answered %d", code)
		}
	}
}
