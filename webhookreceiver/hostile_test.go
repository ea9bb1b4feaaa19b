package webhookreceiver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/internal/text"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// Limits of the receiver under attack in TestHostileInput: short enough
// that slow senders are cut off within the test, as they are in production
// with the defaults.
const (
	hostileMaxBody           = 64 << 10
	hostileReadHeaderTimeout = 300 * time.Millisecond
	hostileReadTimeout       = time.Second
)

// hostileCase is a request as bytes on a TCP connection and the answer it
// must get.
type hostileCase struct {
	name string
	// raw is the request exactly as sent (see rawRequest).
	raw []byte
	// send, when set, writes the request instead of one write of raw: a
	// slow or stalling sender.
	send func(c net.Conn) error
	// code is the status the answer must have; 0 means the connection
	// must be closed with no answer at all.
	code int
	// want is in the answer's body: a status (2xx) or a piece of the error.
	want string
	// stores is the IngresseEvent the case writes; "" for nothing.
	stores string
}

// TestHostileInput sends malformed, oversized, slow, misrouted and
// wrongly authenticated requests over real TCP connections to a receiver
// storing in the real API server. For each: the documented status code (or
// a closed connection for a sender too slow to finish its headers), no
// panic, no goroutine left behind, and the namespace's IngresseEvents
// unchanged (same names and resourceVersions) unless the case is accepted
// on purpose. It is the one table to read for how the receiver treats
// hostile input; the answer's exact message for each malformed member is
// TestBadBodies', whose bodies are also sent here.
func TestHostileInput(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{opts: func(o *Options) {
		o.MaxBodyBytes = hostileMaxBody
		o.ReadHeaderTimeout = hostileReadHeaderTimeout
		o.ReadTimeout = hostileReadTimeout
	}})
	addr := r.srv.listenAddr()

	good := seed(t, examples.EventCreate)
	edit := func(f func(p payload)) []byte { return good.with(t, f).bytes(t) }
	setData := func(path string, v any) []byte {
		return edit(func(p payload) { setPath(p.data(), path, v) })
	}
	// withID is the seed as event id, edited: a case meant to be stored
	// writes an object of its own.
	withID := func(id int64, f func(p payload)) []byte {
		return edit(func(p payload) {
			p.data()["id"] = json.Number(strconv.FormatInt(id, 10))
			f(p)
		})
	}
	timestamp := func(v any) []byte { return edit(func(p payload) { p["timestamp"] = v }) }
	webhookType := func(v string) []byte {
		return []byte(`{"webhook":` + strconv.Quote(v) + `,"data":{"id":1},"timestamp":"2019-03-12T19:32:46Z"}`)
	}
	// nested is the seed as event id with an attribute nested depth
	// arrays deep, written as text: encoding/json will not write it.
	nested := func(id int64, depth int) []byte {
		b := bytes.Replace(examples.EventCreate, []byte(`"id": 21447,`), []byte(`"id": `+strconv.FormatInt(id, 10)+`,`), 1)
		return bytes.Replace(b, []byte(`"attributes": {`), []byte(`"attributes": {"deep": {"name": "deep", "value": `+
			strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}, `), 1)
	}
	bearer := "Authorization: Bearer " + testToken
	jsonType := "Content-Type: application/json"
	post := func(body []byte, headers ...string) []byte {
		return rawRequest(http.MethodPost, webhookPath, body, append([]string{bearer, jsonType}, headers...)...)
	}
	postNoAuth := func(target string, body []byte, headers ...string) []byte {
		return rawRequest(http.MethodPost, target, body, append([]string{jsonType}, headers...)...)
	}
	big := bytes.Repeat([]byte(" "), hostileMaxBody+1)
	gzipped := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}

	cases := []hostileCase{
		// Routing, before anything else.
		{name: "GET", raw: rawRequest(http.MethodGet, webhookPath, nil, bearer), code: 405, want: "use POST"},
		{name: "PUT", raw: rawRequest(http.MethodPut, webhookPath, examples.EventCreate, bearer, jsonType), code: 405, want: "use POST"},
		{name: "DELETE", raw: rawRequest(http.MethodDelete, webhookPath, nil, bearer), code: 405, want: "use POST"},
		{name: "an invented method", raw: rawRequest("BREW", webhookPath, examples.EventCreate, bearer), code: 405, want: "use POST"},
		{name: "path with a trailing slash", raw: rawRequest(http.MethodPost, webhookPath+"/", examples.EventCreate, bearer), code: 404, want: "not found"},
		{name: "path in capitals", raw: rawRequest(http.MethodPost, "/WEBHOOKS/INGRESSE", examples.EventCreate, bearer), code: 404, want: "not found"},
		{name: "path with a dot segment", raw: rawRequest(http.MethodPost, "/webhooks/x/../ingresse", examples.EventCreate, bearer), code: 404, want: "not found"},
		{name: "path with a double slash", raw: rawRequest(http.MethodPost, "/webhooks//ingresse", examples.EventCreate, bearer), code: 404, want: "not found"},

		// Credentials: missing, wrong, or where the receiver never looks.
		{name: "no credentials", raw: postNoAuth(webhookPath, examples.EventCreate), code: 401, want: "missing or invalid credentials"},
		{name: "wrong bearer token", raw: postNoAuth(webhookPath, examples.EventCreate, "Authorization: Bearer tok-0000000000000000000"), code: 401, want: "missing or invalid credentials"},
		{name: "token in capitals", raw: postNoAuth(webhookPath, examples.EventCreate, "Authorization: Bearer "+strings.ToUpper(testToken)), code: 401, want: "missing or invalid credentials"},
		{name: "token as the query parameter TOKEN", raw: postNoAuth(webhookPath+"?TOKEN="+testToken, examples.EventCreate), code: 401, want: "missing or invalid credentials"},
		{name: "token as the query parameter access_token", raw: postNoAuth(webhookPath+"?access_token="+testToken, examples.EventCreate), code: 401, want: "missing or invalid credentials"},
		{name: "token in an X-Token header", raw: postNoAuth(webhookPath, examples.EventCreate, "X-Token: "+testToken), code: 401, want: "missing or invalid credentials"},
		{name: "token in an X-Ingresse-Token header", raw: postNoAuth(webhookPath, examples.EventCreate, "X-Ingresse-Token: "+testToken), code: 401, want: "missing or invalid credentials"},
		{name: "token in a cookie", raw: postNoAuth(webhookPath, examples.EventCreate, "Cookie: token="+testToken), code: 401, want: "missing or invalid credentials"},
		{name: "token in the body", raw: postNoAuth(webhookPath, edit(func(p payload) { p["token"] = testToken })), code: 401, want: "missing or invalid credentials"},
		{name: "token in the path", raw: postNoAuth(webhookPath+"/"+testToken, examples.EventCreate), code: 404, want: "not found"},
		{name: "token as a path segment before the path", raw: postNoAuth("/"+testToken+webhookPath, examples.EventCreate), code: 404, want: "not found"},
		{name: "bearer token after a tab", raw: postNoAuth(webhookPath, examples.EventCreate, "Authorization: Bearer\t"+testToken), code: 401, want: "missing or invalid credentials"},
		{name: "two Authorization headers, the wrong one first", raw: postNoAuth(webhookPath, examples.EventCreate, "Authorization: Bearer wrong", bearer), code: 401, want: "missing or invalid credentials"},
		{name: "a query token longer than the header limit", raw: postNoAuth(webhookPath+"?token="+strings.Repeat("t", DefaultMaxHeaderBytes+4096), examples.EventCreate), code: 431, want: "Request Header Fields Too Large"},

		// Bodies that are not an envelope.
		{name: "malformed JSON", raw: post([]byte(`{"webhook":"event-create","data":{"id":1,`)), code: 400, want: "body is not valid JSON"},
		{name: "a JSON string", raw: post([]byte(`"event-create"`)), code: 400, want: "body must be a JSON object"},
		{name: "a JSON number", raw: post([]byte(`21447`)), code: 400, want: "body must be a JSON object"},
		{name: "white space only", raw: post([]byte(" \r\n\t ")), code: 400, want: "body is not valid JSON"},
		{name: "a byte order mark first", raw: post(append([]byte("\xef\xbb\xbf"), examples.EventCreate...)), code: 400, want: "body is not valid JSON"},
		{name: "UTF-16", raw: post(utf16LE(examples.EventCreate)), code: 400, want: "body is not valid JSON"},
		{name: "a NUL byte inside", raw: post(bytes.Replace(examples.EventCreate, []byte(`"Webhook Example"`), []byte("\"Webhook\x00Example\""), 1)), code: 400, want: "body is not valid JSON"},
		{name: "overlong UTF-8 in the title", raw: post(bytes.Replace(examples.EventCreate, []byte("Webhook Example"), []byte("Webhook \xc0\xaf"), 1)), code: 400, want: "not valid UTF-8"},
		{name: "gzip without saying so", raw: post(gzipped(examples.EventCreate)), code: 400, want: "body is not valid JSON"},
		{name: "gzip, saying so", raw: post(gzipped(examples.EventCreate), "Content-Encoding: gzip"), code: 400, want: "body is not valid JSON"},
		{name: "form-encoded", raw: rawRequest(http.MethodPost, webhookPath, []byte("webhook=event-create&data=x"), bearer, "Content-Type: application/x-www-form-urlencoded"), code: 415, want: "is not JSON"},
		{name: "JSON in UTF-16, saying so", raw: rawRequest(http.MethodPost, webhookPath, utf16LE(examples.EventCreate), bearer, "Content-Type: application/json; charset=utf-16"), code: 415, want: "is not JSON"},
		{name: "data null", raw: post(edit(func(p payload) { p["data"] = nil })), code: 400, want: "data must be an object, not null"},
		{name: "data a string", raw: post(edit(func(p payload) { p["data"] = "21447" })), code: 400, want: "data must be an object, not a string"},

		// Every member of the event with the wrong type (TestBadBodies has
		// title, status, sessions, sessions[0].id, lat, companyId and
		// attributes.saleEnabled).
		{name: "data.slug a boolean", raw: post(setData("slug", true)), code: 400, want: "data.slug must be a string, not a boolean"},
		{name: "data.description an array", raw: post(setData("description", []any{"x"})), code: 400, want: "data.description must be a string, not an array"},
		{name: "data.producerId a string", raw: post(setData("producerId", "297229")), code: 400, want: "data.producerId must be an integer, not a string"},
		{name: "data.createdAt a number", raw: post(setData("createdAt", 1520369344)), code: 400, want: "data.createdAt must be a string, not a number"},
		{name: "data.updatedAt a number", raw: post(setData("updatedAt", 1520369344)), code: 400, want: "data.updatedAt must be a string, not a number"},
		{name: "data.status.id a string", raw: post(setData("status.id", "3")), code: 400, want: "data.status.id must be an integer, not a string"},
		{name: "data.status.name a number", raw: post(setData("status.name", 3)), code: 400, want: "data.status.name must be a string, not a number"},
		{name: "data.place an array", raw: post(setData("place", []any{})), code: 400, want: "data.place must be an object, not an array"},
		{name: "data.place.id a float", raw: post(setData("place.id", 1.5)), code: 400, want: "data.place.id must be an integer, not a number"},
		{name: "data.place.city a number", raw: post(setData("place.city", 5)), code: 400, want: "data.place.city must be a string, not a number"},
		{name: "data.place.location a string", raw: post(setData("place.location", "-10.59,-47.9")), code: 400, want: "data.place.location must be an object, not a string"},
		{name: "data.place.location.lon a boolean", raw: post(setData("place.location.lon", true)), code: 400, want: "data.place.location.lon must be a number, not a boolean"},
		{name: "data.poster a string", raw: post(setData("poster", "https://example.com/p.png")), code: 400, want: "data.poster must be an object, not a string"},
		{name: "data.poster.small a number", raw: post(setData("poster.small", 1)), code: 400, want: "data.poster.small must be a string, not a number"},
		{name: "data.sessions[0] a string", raw: post(setData("sessions", []any{"2017-12-01T20:00:00+00:00"})), code: 400, want: "data.sessions[0] must be an object, not a string"},
		{name: "data.sessions[0].dateTime a number", raw: post(setData("sessions", []any{map[string]any{"id": 1, "dateTime": 1512158400}})), code: 400, want: "data.sessions[0].dateTime must be a string, not a number"},
		{name: "data.sessions[0].status an object", raw: post(setData("sessions", []any{map[string]any{"id": 1, "status": map[string]any{}}})), code: 400, want: "data.sessions[0].status must be a string, not an object"},
		{name: "data.categories an object", raw: post(setData("categories", map[string]any{})), code: 400, want: "data.categories must be an array, not an object"},
		{name: "data.attributes an array", raw: post(setData("attributes", []any{})), code: 400, want: "data.attributes must be an object, not an array"},
		{name: "data.attributes.x.name a number", raw: post(setData("attributes", map[string]any{"x": map[string]any{"name": 1, "value": 1}})), code: 400, want: "data.attributes.x.name must be a string, not a number"},
		{name: "data.id null", raw: post(setData("id", nil)), code: 400, want: "data.id must be a positive integer"},
		{name: "data.id true", raw: post(setData("id", true)), code: 400, want: "data.id must be a positive integer"},

		// Attribute values: deep and huge.
		{name: "an attribute nested deeper than the decoder allows", raw: post(nested(910000, 10001)), code: 400, want: "exceeded max depth"},
		{name: "an attribute nested 500 deep", raw: post(nested(910001, 500)), code: 201, want: outcomeCreated, stores: "event-910001"},
		{name: "an attribute value of 60 KiB", raw: post(withID(910002, func(p payload) {
			p.data()["attributes"] = map[string]any{"huge": map[string]any{"name": "huge", "value": strings.Repeat("x", 60<<10)}}
		})), code: 201, want: outcomeCreated, stores: "event-910002"},

		// Duplicate members: the last one wins, in every decoder alike.
		{name: "duplicate webhook, the ignored type last", raw: post([]byte(`{"webhook":"event-create","webhook":"sale","data":{"id":1},"timestamp":"2019-03-12T19:32:46Z"}`)), code: 202, want: outcomeIgnored},
		{name: "duplicate webhook, the event type last", raw: post(bytes.Replace(examples.EventCreate, []byte(`"webhook": "event-create"`), []byte(`"webhook": "sale", "webhook": "event-create"`), 1)), code: 201, want: outcomeCreated, stores: seedName},
		{name: "duplicate data.id, an invalid one last", raw: post(bytes.Replace(examples.EventCreate, []byte(`"id": 21447,`), []byte(`"id": 910003, "id": -1,`), 1)), code: 400, want: "data.id must be a positive integer"},

		// Types Ingresse does not document: acknowledged and ignored.
		{name: "webhook event-delete", raw: post(webhookType("event-delete")), code: 202, want: outcomeIgnored},
		{name: "webhook Event-Create", raw: post(webhookType("Event-Create")), code: 202, want: outcomeIgnored},
		{name: "webhook event-create with a trailing space", raw: post(webhookType("event-create ")), code: 202, want: outcomeIgnored},
		{name: "webhook of 10 KiB", raw: post(webhookType(strings.Repeat("w", 10<<10))), code: 202, want: outcomeIgnored},

		// Envelope timestamps in every odd shape.
		{name: "timestamp in Unix seconds, as a string", raw: post(timestamp("1522677424")), code: 400, want: "timestamp must be a time"},
		{name: "timestamp in Unix milliseconds", raw: post(timestamp(1522677424770)), code: 400, want: "timestamp must be a string"},
		{name: "timestamp null", raw: post(timestamp(nil)), code: 400, want: "timestamp must be a string"},
		{name: "timestamp empty", raw: post(timestamp("")), code: 400, want: "timestamp must be a time"},
		{name: "timestamp with a decimal comma, as ISO 8601 allows", raw: post(withID(910008, func(p payload) { p["timestamp"] = "2018-04-02T13:57:04,770619" })), code: 201, want: outcomeCreated, stores: "event-910008"},
		{name: "timestamp at hour 25", raw: post(timestamp("2018-04-02T25:57:04")), code: 400, want: "timestamp must be a time"},
		{name: "timestamp on 30 February", raw: post(timestamp("2018-02-30T13:57:04Z")), code: 400, want: "timestamp must be a time"},
		{name: "timestamp with a zone name", raw: post(timestamp("2018-04-02T13:57:04 BRT")), code: 400, want: "timestamp must be a time"},
		{name: "timestamp in RFC 1123", raw: post(timestamp("Mon, 02 Apr 2018 13:57:04 GMT")), code: 400, want: "timestamp must be a time"},
		{name: "timestamp past year 9999 in UTC", raw: post(timestamp("9999-12-31T23:30:00-01:00")), code: 400, want: "between years 0000 and 9999"},
		{name: "timestamp before year 0000 in UTC", raw: post(timestamp("0000-01-01T00:30:00+01:00")), code: 400, want: "between years 0000 and 9999"},
		{name: "timestamp with an offset of +05:30", raw: post(withID(910004, func(p payload) { p["timestamp"] = "2018-04-02T13:57:04.770619+05:30" })), code: 201, want: outcomeCreated, stores: "event-910004"},

		// Titles and slugs that would break a Kubernetes name or label:
		// stored as sent, named by the id alone.
		{name: "title and slug that are paths", raw: post(withID(910005, func(p payload) {
			p.data()["title"], p.data()["slug"] = "../../etc/passwd", "/kube-system/../secrets"
		})), code: 201, want: outcomeCreated, stores: "event-910005"},
		{name: "title and slug with control characters and a label selector", raw: post(withID(910006, func(p payload) {
			p.data()["title"], p.data()["slug"] = "a\u0000b\u001b[31mred\nnew line", "app.kubernetes.io/name=x,Ä Ö"
		})), code: 201, want: outcomeCreated, stores: "event-910006"},
		{name: "title of 4096 characters, 4 bytes each", raw: post(withID(910007, func(p payload) {
			p.data()["title"] = strings.Repeat("🎟", 4096)
		})), code: 201, want: outcomeCreated, stores: "event-910007"},
		{name: "the largest id", raw: post(withID(9223372036854775807, func(payload) {})), code: 201, want: outcomeCreated, stores: "event-9223372036854775807"},

		// Sizes and the transport: refused before the body is read, or cut
		// off when the sender is too slow.
		{name: "body over the limit, with Content-Length", raw: post(big), code: 413, want: "larger than 65536 bytes"},
		{name: "body over the limit, chunked", raw: post(chunked(big, 4096), "Transfer-Encoding: chunked"), code: 413, want: "larger than 65536 bytes"},
		{name: "Content-Length over the limit, Expect: 100-continue, no body", raw: post(nil, "Content-Length: 1048576", "Expect: 100-continue"), code: 413, want: "larger than 65536 bytes"},
		{name: "Content-Length shorter than the body", raw: post(examples.EventCreate, "Content-Length: 100"), code: 400, want: "body is not valid JSON"},
		{name: "two different Content-Lengths", raw: post(examples.EventCreate, "Content-Length: 10", "Content-Length: "+strconv.Itoa(len(examples.EventCreate))), code: 400, want: "Bad Request"},
		{name: "an unknown Transfer-Encoding", raw: post(examples.EventCreate, "Transfer-Encoding: rot13"), code: 501, want: "Unsupported transfer encoding"},
		{name: "HTTP/1.1 without Host", raw: bytes.Replace(post(examples.EventCreate), []byte("Host: receiver\r\n"), nil, 1), code: 400, want: "missing required Host header"},
		{name: "a header name with a space", raw: post(examples.EventCreate, "X Bad: 1"), code: 400, want: "Bad Request"},
		{name: "headers sent slower than the header timeout", raw: post(examples.EventCreate), send: slowHeaders, code: 400, want: "Bad Request"},
		{name: "body sent slower than the read timeout", raw: post(examples.EventCreate), send: slowBody, code: 408, want: `{"error":"timed out reading the body"}`},
		{name: "Content-Length longer than the body, then silence", raw: post(examples.EventCreate), send: stallBody, code: 408, want: `{"error":"timed out reading the body"}`},
	}

	// The bodies of TestBadBodies, over the wire.
	for _, b := range badBodies(t) {
		cases = append(cases, hostileCase{name: "bad body: " + b.name, raw: post(b.body), code: 400, want: b.want})
	}

	// Warm up every path that starts goroutines for good (the event
	// recorder's broadcaster starts on the first Event), so that the
	// baseline is the steady state.
	for _, warm := range [][]byte{edit(func(p payload) { p.data()["id"] = json.Number("919999") }), ticketBody, []byte("{")} {
		if ans := sendWire(t, addr, hostileCase{raw: post(warm)}); ans.closed || ans.code >= 500 {
			t.Fatalf("warming up: %+v", ans)
		}
	}
	time.Sleep(time.Second)
	baseline := settledGoroutines(0, 0)
	stored := 0 // cases answered 201 and found stored; 202 (ignored) promises nothing
	leaked := false
	for _, tc := range cases {
		if leaked {
			t.Fatalf("stopped after a case left goroutines behind")
		}
		t.Run(tc.name, func(t *testing.T) {
			before := listEvents(t, ns)
			ans := sendWire(t, addr, tc)
			if tc.code == 0 {
				if !ans.closed {
					t.Fatalf("answered %d %s, want the connection closed unanswered", ans.code, ans.body)
				}
			} else {
				if ans.closed {
					t.Fatalf("the connection was closed unanswered, want %d", tc.code)
				}
				if ans.code != tc.code || !strings.Contains(ans.body, tc.want) {
					t.Fatalf("answered %d %s, want %d with %q", ans.code, text.Truncate(ans.body, 300), tc.code, tc.want)
				}
				// A refused sender learns nothing of the cluster.
				for _, internal := range []string{"tcp", "127.0.0.1", ns, "i/o timeout"} {
					if ans.code >= 400 && strings.Contains(ans.body, internal) {
						t.Fatalf("the answer %s tells the sender %q", text.Truncate(ans.body, 300), internal)
					}
				}
			}
			after := listEvents(t, ns)
			if tc.stores != "" {
				stored++
				if _, ok := after[tc.stores]; !ok {
					t.Fatalf("%s was not stored", tc.stores)
				}
				delete(after, tc.stores)
				delete(before, tc.stores)
			}
			if diff := diffEvents(before, after); diff != "" {
				t.Fatalf("the store changed: %s", diff)
			}
			if n := settledGoroutines(baseline, 5*time.Second); n > baseline+goroutineSlack {
				leaked = true
				t.Fatalf("%d goroutines after the case, %d before the table", n, baseline)
			}
		})
	}
	if strings.Contains(r.logs.String(), "panic") {
		t.Fatalf("a request panicked:\n%s", r.logs)
	}
	if strings.Contains(r.logs.String(), testToken) {
		t.Fatalf("the token is in the logs:\n%s", grepLines(r.logs.String(), testToken))
	}
	testenv.Report(testenv.Row{Test: "hostile input (webhookreceiver)", Cases: len(cases), Requests: len(cases), Acked: stored, Stored: stored})
}

// goroutineSlack is how many goroutines above the baseline count as
// settled: the manager's informers and event broadcaster come and go.
const goroutineSlack = 3

// settledGoroutines waits up to timeout for the goroutine count to fall to
// target+goroutineSlack and returns the count; with a zero timeout it
// returns the lowest count seen over a short while.
func settledGoroutines(target int, timeout time.Duration) int {
	if timeout == 0 {
		lowest := runtime.NumGoroutine()
		for range 20 {
			time.Sleep(10 * time.Millisecond)
			lowest = min(lowest, runtime.NumGoroutine())
		}
		return lowest
	}
	deadline := time.Now().Add(timeout)
	for {
		n := runtime.NumGoroutine()
		if n <= target+goroutineSlack || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawRequest writes an HTTP/1.1 request: the request line, Host and
// Connection: close, then headers, then Content-Length (unless the headers
// set it or Transfer-Encoding), then the body as is.
func rawRequest(method, target string, body []byte, headers ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: receiver\r\nConnection: close\r\n", method, target)
	framed := false
	for _, h := range headers {
		b.WriteString(h + "\r\n")
		lower := strings.ToLower(h)
		framed = framed || strings.HasPrefix(lower, "content-length:") || strings.HasPrefix(lower, "transfer-encoding:")
	}
	if !framed && (body != nil || method == http.MethodPost || method == http.MethodPut) {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// chunked encodes b in chunks of size n.
func chunked(b []byte, n int) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		c := b[:min(n, len(b))]
		b = b[len(c):]
		fmt.Fprintf(&out, "%x\r\n%s\r\n", len(c), c)
	}
	out.WriteString("0\r\n\r\n")
	return out.Bytes()
}

// utf16LE encodes ASCII text as UTF-16LE with a byte order mark.
func utf16LE(b []byte) []byte {
	out := []byte{0xff, 0xfe}
	for _, c := range b {
		out = append(out, c, 0)
	}
	return out
}

// slowHeaders sends the request line, then one header byte every 100ms:
// slowloris. The header timeout must cut it off.
func slowHeaders(c net.Conn) error {
	head := []byte("POST " + webhookPath + " HTTP/1.1\r\nHost: receiver\r\n")
	if _, err := c.Write(head); err != nil {
		return err
	}
	deadline := time.Now().Add(3 * hostileReadHeaderTimeout)
	for time.Now().Before(deadline) {
		if _, err := c.Write([]byte("X")); err != nil {
			return err // cut off: what the test wants
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// slowBody sends the headers at once and the body a few bytes every 100ms,
// for longer than the read timeout.
func slowBody(c net.Conn) error {
	raw := rawRequest(http.MethodPost, webhookPath, examples.EventCreate, "Authorization: Bearer "+testToken, "Content-Type: application/json")
	i := bytes.Index(raw, []byte("\r\n\r\n")) + 4
	if _, err := c.Write(raw[:i]); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * hostileReadTimeout)
	for j := i; j < len(raw) && time.Now().Before(deadline); j += 8 {
		if _, err := c.Write(raw[j:min(j+8, len(raw))]); err != nil {
			return err // cut off
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// stallBody declares one byte more than it sends, then goes quiet.
func stallBody(c net.Conn) error {
	raw := rawRequest(http.MethodPost, webhookPath, examples.EventCreate, "Authorization: Bearer "+testToken,
		"Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(examples.EventCreate)+1))
	_, err := c.Write(raw)
	return err
}

// wireAnswer is what came back on the connection.
type wireAnswer struct {
	code   int
	body   string
	closed bool // closed with no answer
}

// sendWire sends one case on a new connection and reads the answer; every
// step is bounded by a deadline.
func sendWire(t *testing.T, addr string, tc hostileCase) wireAnswer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.SetDeadline(time.Now().Add(15 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if tc.send != nil {
		err = tc.send(c)
	} else {
		_, err = c.Write(tc.raw)
	}
	if err != nil {
		// A sender cut off half way is what some cases want; the
		// answer (or its absence) says whether it was right.
		t.Logf("sending: %v", err)
	}
	method, _, _ := strings.Cut(string(tc.raw), " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no answer and the connection still open after 15s: %v", err)
		}
		return wireAnswer{closed: true}
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
		t.Logf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	return wireAnswer{code: resp.StatusCode, body: string(body)}
}

// listEvents is every IngresseEvent of ns, by name, with its
// resourceVersion, read from the API server.
func listEvents(t testing.TB, ns string) map[string]string {
	t.Helper()
	list := &eventsv1alpha1.IngresseEventList{}
	if err := controlPlane(t).Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range list.Items {
		out[o.Name] = o.ResourceVersion
	}
	return out
}

// diffEvents says how two listings differ, or "" when they do not.
func diffEvents(before, after map[string]string) string {
	var diffs []string
	for name, rv := range after {
		if old, ok := before[name]; !ok {
			diffs = append(diffs, name+" created")
		} else if old != rv {
			diffs = append(diffs, name+" written")
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			diffs = append(diffs, name+" deleted")
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, ", ")
}

// setPath sets a dotted member path (status.id, place.location.lon) in an
// object, creating the objects on the way.
func setPath(m map[string]any, path string, v any) {
	key, rest, nested := strings.Cut(path, ".")
	if !nested {
		m[key] = v
		return
	}
	child, ok := m[key].(map[string]any)
	if !ok {
		child = map[string]any{}
		m[key] = child
	}
	setPath(child, rest, v)
}

// grepLines is the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
