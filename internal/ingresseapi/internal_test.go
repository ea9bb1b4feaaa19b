package ingresseapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"2", 2 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"86400", maxRetryAfter},
		{"99999999999999999999", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		{"soon", 0},
	} {
		if got := parseRetryAfter(tc.header, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestBackoffIsCappedAndJittered(t *testing.T) {
	c := &Client{opts: Options{MaxBackoff: 3 * time.Second}}
	for _, tc := range []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, 500 * time.Millisecond},
		{2, time.Second},
		{3, 2 * time.Second},
		{4, 3 * time.Second},
		{60, 3 * time.Second},
	} {
		distinct := map[time.Duration]bool{}
		for range 50 {
			d := c.backoff(tc.attempt)
			if d < 0 || d > tc.ceiling {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", tc.attempt, d, tc.ceiling)
			}
			distinct[d] = true
		}
		if len(distinct) < 10 {
			t.Errorf("backoff(%d) drew %d distinct waits of 50: not jittered", tc.attempt, len(distinct))
		}
	}
}

func TestParsePageShapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		events  int
		total   int
		inError string
	}{
		{"hits with _source", `{"data": {"hits": [{"_source": {"id": 1}}, {"_source": {"id": 2}}], "total": 9}}`, 2, 9, ""},
		{"bare hits", `{"data": {"hits": [{"id": 1}], "total": 1}}`, 1, 1, ""},
		{"Elasticsearch 7 total", `{"data": {"hits": [], "total": {"value": 0, "relation": "eq"}}}`, 0, 0, ""},
		{"no total", `{"data": {"hits": []}}`, 0, 0, "no total"},
		{"no hits", `{"data": {"total": 3}}`, 0, 0, "no hits"},
		{"hits an object", `{"data": {"hits": {"byDate": []}, "total": 3}}`, 0, 0, "hits is not an array"},
		{"an event without an id", `{"data": {"hits": [{"_source": {"title": "x"}}], "total": 1}}`, 0, 0, "hit 0 has no integer id"},
		{"no data", `{"responseData": [], "responseStatus": 200}`, 0, 0, `no "data" among its members ["responseData", "responseStatus"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, v1, err := members([]byte(tc.body))
			if err != nil || v1 != nil {
				t.Fatalf("members: %v, %v", v1, err)
			}
			page, err := parsePage(m)
			if tc.inError != "" {
				if !errors.Is(err, errShape) || !strings.Contains(err.Error(), tc.inError) {
					t.Errorf("parsePage: %v, want an unrecognised answer saying %q", err, tc.inError)
				}
				return
			}
			if err != nil || len(page.Events) != tc.events || page.Total != tc.total {
				t.Errorf("parsePage: %d events of %d, %v; want %d of %d", len(page.Events), page.Total, err, tc.events, tc.total)
			}
		})
	}
}

func TestMembersTellsMalformedFromUnknown(t *testing.T) {
	_, _, err := members([]byte(`{"data": {"hits": [`))
	if !errors.Is(err, errMalformed) {
		t.Errorf("a truncated answer: %v, want errMalformed", err)
	}
	_, _, err = members([]byte(`"a string"`))
	if !errors.Is(err, errShape) {
		t.Errorf("a JSON string: %v, want errShape", err)
	}
	_, v1, err := members([]byte(`{"responseError": {"code": "3002", "message": "Event\nnot found"}}`))
	if err != nil || v1 == nil || v1.code != 3002 || v1.message != "Event not found" {
		t.Errorf("a v1 error: %+v, %v", v1, err)
	}
}

func TestEventIDAcceptsNumbersAndDigits(t *testing.T) {
	for doc, want := range map[string]int64{`{"id": 21447}`: 21447, `{"id": "21447"}`: 21447} {
		if got, ok := eventID(json.RawMessage(doc)); !ok || got != want {
			t.Errorf("eventID(%s) = %d, %v", doc, got, ok)
		}
	}
	for _, doc := range []string{`{"id": 1.5}`, `{"id": null}`, `{"id": "x"}`, `{}`} {
		if _, ok := eventID(json.RawMessage(doc)); ok {
			t.Errorf("eventID(%s) accepted", doc)
		}
	}
}

// token is a JWT of the given payload, as issuers encode it (base64url
// without padding); the signature is not read.
func token(payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload)) + ".c2ln"
}

func TestJWTExpiry(t *testing.T) {
	exp := time.Unix(1767225600, 0).UTC()
	for _, tc := range []struct {
		name  string
		token string
		kind  expiryKind
		at    time.Time
	}{
		{"integer exp", token(`{"sub":"1","exp":1767225600}`), expiryClaim, exp},
		{"fractional exp", token(`{"exp":1767225600.25}`), expiryClaim, exp.Add(250 * time.Millisecond)},
		{"exponent exp", token(`{"exp":1.7672256e9}`), expiryClaim, exp},
		{"exp 0", token(`{"exp":0}`), expiryClaim, time.Unix(0, 0).UTC()},
		{"the last second of 9999", token(`{"exp":253402300799}`), expiryClaim, time.Unix(253402300799, 0).UTC()},
		{"padding kept", strings.Replace(token(`{"exp":1767225600}`), ".c2ln", "", 1) + "==.c2ln", expiryClaim, exp},
		{"no exp", token(`{"sub":"1"}`), expiryNone, time.Time{}},
		{"empty claims", token(`{}`), expiryNone, time.Time{}},
		{"exp a string", token(`{"exp":"1767225600"}`), expiryUnreadable, time.Time{}},
		{"exp null", token(`{"exp":null}`), expiryUnreadable, time.Time{}},
		{"exp negative", token(`{"exp":-1}`), expiryUnreadable, time.Time{}},
		{"exp past 9999", token(`{"exp":253402300800}`), expiryUnreadable, time.Time{}},
		{"exp beyond a float", token(`{"exp":1e400}`), expiryUnreadable, time.Time{}},
		{"claims an array", token(`[1767225600]`), expiryUnreadable, time.Time{}},
		{"claims null", token(`null`), expiryUnreadable, time.Time{}},
		{"claims not JSON", token(`exp=1767225600`), expiryUnreadable, time.Time{}},
		{"standard base64", "eyJ9.eyJleHAiOjE3Njc+MjI1NjAwfQ.c2ln", expiryUnreadable, time.Time{}},
		{"two parts", "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3NjcyMjU2MDB9", expiryUnreadable, time.Time{}},
		{"four parts", token(`{"exp":1767225600}`) + ".more", expiryUnreadable, time.Time{}},
		{"an opaque token", "fake-jwt-1-9e3779b1", expiryUnreadable, time.Time{}},
		{"empty", "", expiryUnreadable, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, kind := jwtExpiry(tc.token)
			if kind != tc.kind || !at.Equal(tc.at) {
				t.Errorf("jwtExpiry = %v, %v; want %v, %v", at, kind, tc.at, tc.kind)
			}
		})
	}
}

// TestJudgeAtTheExpiry: a JWT counts until the instant of its exp claim
// (RFC 7519: the token is accepted only before it), and from then on only
// what can renew it serves a use that needs a JWT; a JWT whose expiry
// cannot be read is not known to be expired.
func TestJudgeAtTheExpiry(t *testing.T) {
	exp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jwt := token(fmt.Sprintf(`{"exp":%d}`, exp.Unix()))
	for _, tc := range []struct {
		name  string
		creds Credentials
		now   time.Time
		ok    bool
	}{
		{"a second before", Credentials{JWT: jwt}, exp.Add(-time.Second), true},
		{"a nanosecond before", Credentials{JWT: jwt}, exp.Add(-time.Nanosecond), true},
		{"at exp", Credentials{JWT: jwt}, exp, false},
		{"a second after", Credentials{JWT: jwt}, exp.Add(time.Second), false},
		{"after, with the apikey alone", Credentials{JWT: jwt, APIKey: "k"}, exp.Add(time.Second), false},
		{"after, with the usertoken alone", Credentials{JWT: jwt, UserToken: "u"}, exp.Add(time.Second), false},
		{"after, renewable", Credentials{JWT: jwt, APIKey: "k", UserToken: "u"}, exp.Add(time.Second), true},
		{"no exp claim, years later", Credentials{JWT: token(`{"sub":"1"}`)}, exp.AddDate(10, 0, 0), true},
		{"unreadable, years later", Credentials{JWT: "opaque-token"}, exp.AddDate(10, 0, 0), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, u := range []use{useEvent, useProducerListing} {
				err := judge(u, tc.creds, tc.creds.JWT, "/creds", tc.now)
				if (err == nil) != tc.ok {
					t.Fatalf("judge(%s) = %v, want ok %v", u, err, tc.ok)
				}
				if err != nil && !strings.Contains(err.Error(), "jwt expired at 2026-01-01T00:00:00Z") {
					t.Errorf("judge(%s) = %v, want it to say when the JWT expired", u, err)
				}
			}
		})
	}
}

// TestCanReadEventsFollowsTheClockAndTheFile: a JWT nothing can renew
// serves reading events until its exp claim, then CanReadEvents fails and
// the usable gauge drops, with no call to the API; a rotated file, read by
// CanReadEvents itself once a reload is due, makes it succeed again.
func TestCanReadEventsFollowsTheClockAndTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	write("apikey=an-api-key\njwt=" + token(fmt.Sprintf(`{"exp":%d}`, exp.Unix())) + "\n")
	reg := prometheus.NewRegistry()
	c, err := New(Options{CredentialsFile: path, ReadEvents: true, EventURL: "http://127.0.0.1:1"}, reg, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	now := exp.Add(-time.Second)
	c.now = func() time.Time { return now }
	usable := func() float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range families {
			if mf.GetName() == "ingresse_api_credentials_usable" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no ingresse_api_credentials_usable")
		return 0
	}

	if err := c.CanReadEvents(); err != nil || usable() != 1 {
		t.Fatalf("before the expiry: CanReadEvents %v, usable %v", err, usable())
	}
	now = exp
	if err := c.CanReadEvents(); err == nil || !strings.Contains(err.Error(), "jwt or usertoken+apikey") || usable() != 0 {
		t.Fatalf("at the expiry: CanReadEvents %v, usable %v", err, usable())
	}
	// The Secret gets what renews a JWT; the next check after the reload
	// interval reads it.
	write("apikey=an-api-key\nusertoken=a-user-token\n")
	if err := c.CanReadEvents(); err == nil {
		t.Fatal("the file was read again before its reload interval")
	}
	now = now.Add(DefaultReloadInterval)
	if err := c.CanReadEvents(); err != nil || usable() != 1 {
		t.Fatalf("after the rotation: CanReadEvents %v, usable %v", err, usable())
	}
}

// TestParseTotal: a total is exact only when it says so (a number, or
// {"value", "relation": "eq"}, or {"value"} alone as Elasticsearch 7
// wrote it before relations); "gte" and any relation it does not know are
// lower bounds, which never end a listing.
func TestParseTotal(t *testing.T) {
	for _, tc := range []struct {
		raw        string
		total      int
		lowerBound bool
		bad        bool
	}{
		{raw: `0`, total: 0},
		{raw: `95`, total: 95},
		{raw: `{"value": 95}`, total: 95},
		{raw: `{"value": 95, "relation": "eq"}`, total: 95},
		{raw: `{"value": 10000, "relation": "gte"}`, total: 10000, lowerBound: true},
		{raw: `{"value": 10000, "relation": "GTE"}`, total: 10000, lowerBound: true},
		{raw: `{"value": 10000, "relation": "about"}`, total: 10000, lowerBound: true},
		{raw: `{"value": 10000, "relation": null}`, total: 10000},
		{raw: `{"relation": "eq"}`, bad: true},
		{raw: `"95"`, bad: true},
		{raw: `null`, bad: true},
	} {
		total, lowerBound, err := parseTotal(json.RawMessage(tc.raw))
		if (err != nil) != tc.bad || (!tc.bad && (total != tc.total || lowerBound != tc.lowerBound)) {
			t.Errorf("parseTotal(%s) = %d, lower bound %v, %v; want %d, %v, error %v", tc.raw, total, lowerBound, err, tc.total, tc.lowerBound, tc.bad)
		}
	}
}
