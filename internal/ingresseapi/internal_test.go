package ingresseapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
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
