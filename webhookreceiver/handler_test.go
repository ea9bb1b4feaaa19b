package webhookreceiver

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

func TestRouting(t *testing.T) {
	r := newHTTPReplica(t, replicaConfig{})
	serve := func(method, target string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, bytes.NewReader(examples.EventCreate))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "PROPFIND"} {
		t.Run(method, func(t *testing.T) {
			refused := func() float64 {
				return metricValue(t, r.reg, "ingresse_receiver_requests_total", map[string]string{"outcome": outcomeMethodNotAllowed})
			}
			before := refused()
			rec := serve(method, webhookPath)
			expect(t, rec, http.StatusMethodNotAllowed, "use POST")
			if got := rec.Header().Get("Allow"); got != http.MethodPost {
				t.Errorf("Allow %q, want POST", got)
			}
			if n := refused() - before; n != 1 {
				t.Errorf("method_not_allowed counted %v times, want once", n)
			}
		})
	}
	for _, target := range []string{"/", "/webhooks", "/webhooks/ingresse/", "/webhooks/ingresse/" + testToken, "/webhooks/INGRESSE", "/metrics", "/healthz?token=" + testToken} {
		t.Run("POST "+target, func(t *testing.T) {
			a := expect(t, serve(http.MethodPost, target), http.StatusNotFound, "not found")
			if strings.Contains(a.Error, testToken) {
				t.Error("the answer holds the token")
			}
		})
	}
	if r.count(t) != 0 {
		t.Fatal("a misrouted request stored something")
	}
}

func TestBodyLimits(t *testing.T) {
	const limit = 4096
	r := newHTTPReplica(t, replicaConfig{opts: func(o *Options) { o.MaxBodyBytes = limit }})
	padded := func(n int) []byte { // the seed, padded with white space to n bytes
		return append(bytes.Clone(examples.EventCreate), bytes.Repeat([]byte(" "), n-len(examples.EventCreate))...)
	}

	t.Run("declared length over the limit, refused unread", func(t *testing.T) {
		body := &readTracker{r: bytes.NewReader(padded(limit + 1))}
		rec := r.post(t, nil, withBody(body), func(r *http.Request) { r.ContentLength = limit + 1 })
		expect(t, rec, http.StatusRequestEntityTooLarge, "larger than 4096 bytes")
		if body.read.Load() {
			t.Error("the body was read")
		}
	})
	t.Run("no declared length", func(t *testing.T) {
		rec := r.post(t, nil, func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(padded(limit+1))), -1
		})
		expect(t, rec, http.StatusRequestEntityTooLarge, "larger than 4096 bytes")
	})
	t.Run("declared length that lies", func(t *testing.T) {
		rec := r.post(t, nil, func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(padded(2*limit))), 100
		})
		expect(t, rec, http.StatusRequestEntityTooLarge, "larger than 4096 bytes")
	})
	t.Run("chunked over a real connection", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, "http://"+r.srv.listenAddr()+webhookPath, io.MultiReader(bytes.NewReader(padded(limit+1))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("answer %d, want 413", resp.StatusCode)
		}
	})
	t.Run("unauthenticated: 401 before the size", func(t *testing.T) {
		expect(t, r.post(t, padded(limit+1), noAuth), http.StatusUnauthorized, "credentials")
	})
	if r.count(t) != 0 {
		t.Fatal("an oversized body was stored")
	}
	t.Run("exactly the limit", func(t *testing.T) {
		expect(t, r.post(t, padded(limit)), http.StatusCreated, outcomeCreated)
	})
}

func TestContentTypes(t *testing.T) {
	r := newHTTPReplica(t, replicaConfig{})
	for _, tc := range []struct {
		contentType string
		ok          bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON;charset=UTF-8", true},
		{"application/vnd.ingresse.webhook+json", true},
		{"", true},
		{"text/plain", false},
		{"text/json", false},
		{"application/xml", false},
		{"application/x-www-form-urlencoded", false},
		{"multipart/form-data; boundary=x", false},
		{"application/json; charset=latin1", false},
		{"application/json+xml", false},
		{"application/;;", false},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			rec := r.post(t, ticketBody, setHeader("Content-Type", tc.contentType))
			if tc.ok {
				expect(t, rec, http.StatusAccepted, outcomeIgnored)
				return
			}
			expect(t, rec, http.StatusUnsupportedMediaType, "is not JSON")
		})
	}
}

// badBody is a malformed delivery and what its 400 answer must name.
type badBody struct {
	name, want string
	body       []byte
}

// badBodies are malformed versions of the seed, one per way a body can be
// wrong. TestBadBodies checks each answer's message; TestHostileInput
// sends them over the wire too.
func badBodies(t testing.TB) []badBody {
	good := seed(t, examples.EventCreate)
	edit := func(f func(p payload)) []byte { return good.with(t, f).bytes(t) }
	setData := func(key string, v any) []byte { return edit(func(p payload) { p.data()[key] = v }) }
	return []badBody{
		{"empty", "body is not valid JSON", nil},
		{"not JSON", "body is not valid JSON", []byte("webhook=event-create")},
		{"truncated", "body is not valid JSON", examples.EventCreate[:100]},
		{"trailing garbage", "body is not valid JSON", append(bytes.Clone(examples.EventCreate), []byte(`{"webhook":"event-create"}`)...)},
		{"an array", "body must be a JSON object", []byte(`[` + string(examples.EventCreate) + `]`)},
		{"null", "body must be a JSON object", []byte(`null`)},
		{"no webhook", "webhook is required", edit(func(p payload) { delete(p, "webhook") })},
		{"Webhook in another case", "webhook is required", edit(func(p payload) { p["Webhook"] = p["webhook"]; delete(p, "webhook") })},
		{"webhook a number", "webhook must be a string", edit(func(p payload) { p["webhook"] = 1 })},
		{"webhook null", "webhook must be a string", edit(func(p payload) { p["webhook"] = nil })},
		{"webhook empty", "webhook must not be empty", edit(func(p payload) { p["webhook"] = "" })},
		{"no data", "data is required", edit(func(p payload) { delete(p, "data") })},
		{"data an array", "data must be an object, not an array", edit(func(p payload) { p["data"] = []any{} })},
		{"data.id missing", "data.id must be a positive integer", edit(func(p payload) { delete(p.data(), "id") })},
		{"data.id a string", "data.id must be a positive integer", setData("id", "21447")},
		{"data.id zero", "data.id must be a positive integer", setData("id", 0)},
		{"data.id negative", "data.id must be a positive integer", setData("id", -21447)},
		{"data.id a float", "data.id must be a positive integer", setData("id", 21447.5)},
		{"data.id with an exponent", "data.id must be a positive integer", []byte(strings.Replace(string(examples.EventCreate), `"id": 21447`, `"id": 2.1447e4`, 1))},
		{"data.id over int64", "data.id must be a positive integer", []byte(strings.Replace(string(examples.EventCreate), `"id": 21447`, `"id": 9223372036854775808`, 1))},
		{"data.title a number", "data.title must be a string, not a number", setData("title", 42)},
		{"data.sessions an object", "data.sessions must be an array, not an object", setData("sessions", map[string]any{})},
		{"data.sessions[0].id a string", "data.sessions[0].id must be an integer, not a string", setData("sessions", []any{map[string]any{"id": "x"}})},
		{"data.place.location.lat a string", "data.place.location.lat must be a number, not a string", setData("place", map[string]any{"location": map[string]any{"lat": "-10.59"}})},
		{"data.attributes.saleEnabled not an object", "data.attributes.saleEnabled must be an object, not a boolean", setData("attributes", map[string]any{"saleEnabled": true})},
		{"data.status a string", "data.status must be an object, not a string", setData("status", "private")},
		{"data.companyId a float", "data.companyId must be an integer", setData("companyId", 1.5)},
		{"data.companyId negative", "data.companyId must not be negative", setData("companyId", -1)},
		{"data.updatedAt missing", "data.updatedAt is required", edit(func(p payload) { delete(p.data(), "updatedAt") })},
		{"data.updatedAt not a time", "data.updatedAt must be a time", setData("updatedAt", "yesterday")},
		{"no timestamp", "timestamp is required", edit(func(p payload) { delete(p, "timestamp") })},
		{"timestamp a number", "timestamp must be a string", edit(func(p payload) { p["timestamp"] = 1522677424 })},
		{"timestamp not a time", "timestamp must be a time", edit(func(p payload) { p["timestamp"] = "2018-04-02" })},
		{"invalid UTF-8", "not valid UTF-8", bytes.Replace(examples.EventCreate, []byte("Webhook Example"), []byte("Webhook \xff\xfe"), 1)},
	}
}

// TestBadBodies: every malformed delivery is 400 with an error that names
// what is wrong, and nothing is stored.
func TestBadBodies(t *testing.T) {
	r := newHTTPReplica(t, replicaConfig{})
	good := seed(t, examples.EventCreate)
	edit := func(f func(p payload)) []byte { return good.with(t, f).bytes(t) }
	for _, tc := range badBodies(t) {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, r.post(t, tc.body), http.StatusBadRequest, tc.want)
		})
	}
	if r.count(t) != 0 {
		t.Fatal("a bad body was stored")
	}
	// Members Ingresse may add at any level are kept, not refused.
	future := edit(func(p payload) {
		p["deliveryId"] = "abc"
		p.data()["ageRating"] = map[string]any{"min": 18}
		p.data()["place"].(map[string]any)["geohash"] = "7zzzz"
	})
	expect(t, r.post(t, future), http.StatusCreated, outcomeCreated)
	stored := r.get(t, seedName)
	if string(stored.Spec.Unknown["ageRating"].Raw) != `{"min":18}` || string(stored.Spec.Place.Unknown["geohash"].Raw) != `"7zzzz"` {
		t.Fatalf("unknown members were not kept: %v %v", stored.Spec.Unknown, stored.Spec.Place.Unknown)
	}
}

// TestIgnoredWebhooks: the types that are not events are acknowledged and
// nothing of them is decoded, stored or logged.
func TestIgnoredWebhooks(t *testing.T) {
	r := newHTTPReplica(t, replicaConfig{})
	const email, document = "maria.silva@example.com", "123.456.789-09"
	sale := []byte(`{"webhook":"sale","data":{"transactionId":"T-1","buyer":{"name":"Maria Silva","email":"` + email +
		`","document":"` + document + `","phone":"+55 11 91234-5678"},"tickets":[{"id":1}]},"timestamp":"2019-03-12T19:32:46Z"}`)
	for _, tc := range []struct {
		name, label string
		body        []byte
	}{
		{"sale", "sale", sale},
		{"postback", "postback", []byte(`{"webhook":"postback","data":{"transactionId":"T-1","status":"approved","date":"x","email":"` + email + `"},"timestamp":"2019-03-12T19:32:46Z"}`)},
		{"ticket", "ticket", ticketBody},
		{"checkin", "checkin", []byte(`{"webhook":"checkin","data":{"action":"in","saleTicket":{"id":1,"code":"X"},"event":{"id":21447}},"timestamp":"2019-03-12T19:32:46Z"}`)},
		{"a type Ingresse adds later", "unknown", []byte(`{"webhook":"refund","data":{"email":"` + email + `"}}`)},
		{"a sale with a data member that is not an event", "sale", []byte(`{"webhook":"sale","data":"` + email + `"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := metricValue(t, r.reg, "ingresse_receiver_requests_total", map[string]string{"webhook": tc.label, "outcome": outcomeIgnored})
			a := expect(t, r.post(t, tc.body), http.StatusAccepted, outcomeIgnored)
			if a.Name != "" || a.Namespace != "" {
				t.Errorf("an ignored webhook names an object: %+v", a)
			}
			if after := metricValue(t, r.reg, "ingresse_receiver_requests_total", map[string]string{"webhook": tc.label, "outcome": outcomeIgnored}); after != before+1 {
				t.Errorf("ignored %s not counted under webhook=%s", tc.name, tc.label)
			}
		})
	}
	if r.count(t) != 0 {
		t.Fatal("an ignored webhook was stored")
	}
	for _, secret := range []string{email, document, "Maria", "T-1"} {
		if strings.Contains(r.logs.String(), secret) {
			t.Fatalf("the logs hold %q from an ignored body:\n%s", secret, r.logs)
		}
	}
	if !strings.Contains(r.logs.String(), `"outcome"="ignored"`) {
		t.Fatalf("ignored webhooks are not logged at all:\n%s", r.logs)
	}
}

// TestInFlightBound: beyond MaxInFlight deliveries at once, the receiver
// answers 503 with Retry-After at once instead of queueing.
func TestInFlightBound(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	block := &interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		once.Do(func() {
			close(entered)
			<-release
		})
		return c.Create(ctx, obj, opts...)
	}}
	r := newHTTPReplica(t, replicaConfig{client: block, opts: func(o *Options) { o.MaxInFlight = 1 }})

	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- r.post(t, examples.EventCreate) }()
	<-entered
	if n := metricValue(t, r.reg, "ingresse_receiver_in_flight_requests", nil); n != 1 {
		t.Errorf("in-flight gauge %v while one delivery is in flight", n)
	}
	rec := r.post(t, examples.EventUpdate)
	expect(t, rec, http.StatusServiceUnavailable, "too many webhooks in flight")
	if rec.Header().Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
	close(release)
	expect(t, <-first, http.StatusCreated, outcomeCreated)
	if n := metricValue(t, r.reg, "ingresse_receiver_in_flight_requests", nil); n != 0 {
		t.Errorf("in-flight gauge %v after the delivery", n)
	}
	// The slot is free again.
	expect(t, r.post(t, examples.EventUpdate), http.StatusOK, outcomeUnchanged)
	if n := metricValue(t, r.reg, "ingresse_receiver_requests_total", map[string]string{"outcome": outcomeTooManyRequests}); n != 1 {
		t.Errorf("too_many_requests counted %v", n)
	}
}
