package fakeingresse

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSeedEventsAreDistinctEventsOfTheFixturesShape(t *testing.T) {
	updated := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	docs := SeedEvents(60, 7, 297229, updated)
	if len(docs) != 60 {
		t.Fatalf("%d documents, want 60", len(docs))
	}
	var fx map[string]json.RawMessage
	if err := json.Unmarshal(Fixture(), &fx); err != nil {
		t.Fatal(err)
	}
	titles, slugs, shapes := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, doc := range docs {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("document %d is not JSON: %v", i+1, err)
		}
		for k := range fx {
			if _, ok := m[k]; !ok {
				t.Errorf("document %d lacks the fixture's %q", i+1, k)
			}
		}
		if len(m) != len(fx) {
			t.Errorf("document %d has %d members, the fixture %d", i+1, len(m), len(fx))
		}
		var v struct {
			ID         int64  `json:"id"`
			CompanyID  int64  `json:"companyId"`
			ProducerID int64  `json:"producerId"`
			Title      string `json:"title"`
			Slug       string `json:"slug"`
			UpdatedAt  string `json:"updatedAt"`
			Sessions   []struct {
				ID       int64  `json:"id"`
				DateTime string `json:"dateTime"`
			} `json:"sessions"`
			Status struct {
				ID int `json:"id"`
			} `json:"status"`
		}
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatal(err)
		}
		if v.ID != int64(i+1) || v.CompanyID != 7 || v.ProducerID != 297229 {
			t.Errorf("document %d: id %d, company %d, producer %d", i+1, v.ID, v.CompanyID, v.ProducerID)
		}
		if v.UpdatedAt != "2025-03-01T12:00:00.000000+00:00" {
			t.Errorf("document %d: updatedAt %q, want Ingresse's format", i+1, v.UpdatedAt)
		}
		if len(v.Sessions) == 0 || v.Status.ID < 1 || v.Status.ID > 3 {
			t.Errorf("document %d: %d sessions, status %d", i+1, len(v.Sessions), v.Status.ID)
		}
		for _, s := range v.Sessions {
			if _, err := time.Parse(time.RFC3339, s.DateTime); err != nil {
				t.Errorf("document %d: session dateTime %q: %v", i+1, s.DateTime, err)
			}
		}
		// Floats keep their decimal point, as Ingresse writes them.
		if !bytes.Contains(doc, []byte(`"value":100000.0`)) {
			t.Errorf("document %d lost retentionThreshold's 100000.0", i+1)
		}
		titles[v.Title], slugs[v.Slug] = true, true
		shapes[fmt.Sprint(len(v.Sessions), v.Status.ID)] = true
	}
	if len(titles) != 60 || len(slugs) != 60 {
		t.Errorf("%d distinct titles and %d distinct slugs of 60", len(titles), len(slugs))
	}
	if len(shapes) < 6 {
		t.Errorf("only %d combinations of session count and status", len(shapes))
	}
	if !bytes.Equal(SeedEvents(3, 7, 297229, updated)[2], docs[2]) {
		t.Error("SeedEvents is not deterministic")
	}
}

// get requests path from srv with an optional JWT, and decodes the answer.
func get(t *testing.T, srv *httptest.Server, path, jwt string) (int, http.Header, map[string]json.RawMessage) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if jwt != "" {
		req.Header.Set("Authorization", "Bearer "+jwt)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		m = map[string]json.RawMessage{"_malformed": body}
	}
	return resp.StatusCode, resp.Header, m
}

func code(m map[string]json.RawMessage) string { return string(m["code"]) }

func TestEventAndAuthentication(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	f.Put(Fixture())
	jwt := f.JWT()
	if !strings.Contains(f.Credentials(), "jwt="+jwt) {
		t.Fatalf("Credentials() lacks the JWT: %q", f.Credentials())
	}

	if status, _, m := get(t, srv, "/event/21447", jwt); status != http.StatusOK || !bytes.Equal(m["data"], bytes.TrimSpace(Fixture())) {
		t.Errorf("GET /event/21447: %d %s", status, m["data"])
	}
	if status, _, m := get(t, srv, "/event/1", jwt); status != http.StatusNotFound || code(m) != "404" {
		t.Errorf("GET of a missing event: %d %v", status, m)
	}
	if status, _, m := get(t, srv, "/event/21447", "made.up"); status != http.StatusUnauthorized || code(m) != "6062" {
		t.Errorf("an unknown JWT: %d %v, want 401 code 6062", status, m)
	}
	if status, _, _ := get(t, srv, "/event/21447", ""); status != http.StatusUnauthorized {
		t.Errorf("no JWT: %d, want 401", status)
	}

	f.ExpireJWT()
	if status, _, m := get(t, srv, "/event/21447", jwt); status != http.StatusUnauthorized || code(m) != "2006" {
		t.Errorf("an expired JWT: %d %v, want 401 code 2006", status, m)
	}
	q := url.Values{"apikey": {APIKey}, "usertoken": {"wrong"}}
	if status, _, m := get(t, srv, "/api/login/renew-token?"+q.Encode(), jwt); status != http.StatusOK || m["responseError"] == nil {
		t.Errorf("a renewal with a wrong usertoken: %d %v, want a v1 error", status, m)
	}
	q.Set("usertoken", UserToken)
	_, _, m := get(t, srv, "/api/login/renew-token?"+q.Encode(), jwt)
	var renewed struct {
		AuthToken string `json:"authToken"`
	}
	if err := json.Unmarshal(m["responseData"], &renewed); err != nil || renewed.AuthToken == "" || renewed.AuthToken == jwt {
		t.Fatalf("a renewal: %v, %v", m, err)
	}
	if status, _, _ := get(t, srv, "/event/21447", renewed.AuthToken); status != http.StatusOK {
		t.Errorf("the renewed JWT: %d", status)
	}
	if f.JWT() != renewed.AuthToken {
		t.Error("JWT() is not the renewed JWT")
	}
	if ev, renew := f.Requests(EndpointEvent), f.Requests(EndpointRenew); ev != 6 || renew != 2 {
		t.Errorf("counted %d event and %d renew requests, want 6 and 2", ev, renew)
	}

	f.Delete(21447)
	if _, ok := f.Get(21447); ok || f.Len() != 0 {
		t.Error("Delete left the event")
	}
}

func TestListings(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	updated := time.Now()
	for _, doc := range SeedEvents(12, 1, 2, updated) {
		f.Put(doc)
	}
	for _, doc := range SeedEvents(15, 3, 2, updated)[12:] {
		f.Put(doc)
	}

	page := func(m map[string]json.RawMessage) (ids []int64, total int) {
		t.Helper()
		var v struct {
			Hits []struct {
				Source struct {
					ID int64 `json:"id"`
				} `json:"_source"`
			} `json:"hits"`
			Total int `json:"total"`
		}
		if err := json.Unmarshal(m["data"], &v); err != nil {
			t.Fatalf("not a listing page: %v %v", m, err)
		}
		for _, h := range v.Hits {
			ids = append(ids, h.Source.ID)
		}
		return ids, v.Total
	}

	_, _, m := get(t, srv, "/event/search/producer", f.JWT())
	if ids, total := page(m); len(ids) != 10 || ids[0] != 1 || ids[9] != 10 || total != 15 {
		t.Errorf("the first producer page (default size): %v of %d", ids, total)
	}
	_, _, m = get(t, srv, "/event/search/producer?size=4&offset=12", f.JWT())
	if ids, total := page(m); fmt.Sprint(ids) != "[13 14 15]" || total != 15 {
		t.Errorf("the last producer page: %v of %d", ids, total)
	}
	if status, _, _ := get(t, srv, "/event/search/producer", ""); status != http.StatusUnauthorized {
		t.Errorf("the producer listing without a JWT: %d", status)
	}
	_, _, m = get(t, srv, "/event-search/3?apikey="+APIKey, "")
	if ids, total := page(m); fmt.Sprint(ids) != "[13 14 15]" || total != 3 {
		t.Errorf("company 3's listing: %v of %d", ids, total)
	}
	if status, _, _ := get(t, srv, "/event-search/3", ""); status != http.StatusUnauthorized {
		t.Errorf("the company listing without an apikey: %d", status)
	}
	if status, _, _ := get(t, srv, "/event-search/3?apikey="+APIKey+"&size=0", ""); status != http.StatusBadRequest {
		t.Errorf("size=0: %d", status)
	}
}

func TestFaults(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	f.Put(Fixture())

	f.FailNext(2, http.StatusTooManyRequests, 1500*time.Millisecond)
	for i := range 2 {
		status, h, m := get(t, srv, "/event/21447", f.JWT())
		if status != http.StatusTooManyRequests || h.Get("Retry-After") != "2" || code(m) != "429" {
			t.Errorf("failure %d: %d, Retry-After %q, %v", i, status, h.Get("Retry-After"), m)
		}
	}
	if status, _, _ := get(t, srv, "/event/21447", f.JWT()); status != http.StatusOK {
		t.Errorf("after the failures: %d", status)
	}

	f.MalformNext(1)
	if _, _, m := get(t, srv, "/event/search/producer", f.JWT()); m["_malformed"] == nil {
		t.Errorf("MalformNext: a whole answer %v", m)
	}
	if _, _, m := get(t, srv, "/event/search/producer", f.JWT()); m["data"] == nil {
		t.Errorf("after MalformNext: %v", m)
	}

	f.SetPageDelay(50 * time.Millisecond)
	start := time.Now()
	get(t, srv, "/event/search/producer", f.JWT())
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("a page came in %v with a 50ms delay", d)
	}
	if n := f.Requests(EndpointList); n != 3 {
		t.Errorf("counted %d listing requests, want 3", n)
	}
}

func TestPutRefusesADocumentWithoutAnID(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Put accepted a document without an id")
		}
	}()
	New().Put(json.RawMessage(`{"title": "no id"}`))
}

// TestMintedJWTExpiresAtItsClaim: a JWT from MintJWT has a readable exp
// claim, and the fake accepts it before that instant and answers it as
// expired (code 2006) from then on.
func TestMintedJWTExpiresAtItsClaim(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	f.Put(Fixture())
	exp := time.Now().Add(time.Hour)
	live, dead := f.MintJWT(exp), f.MintJWT(time.Now().Add(-time.Second))

	parts := strings.Split(live, ".")
	if len(parts) != 3 || !strings.Contains(parts[2], "fake-jwt-") {
		t.Fatalf("MintJWT = %q, want header.payload.signature with fake-jwt- in the signature", live)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Exp int64 }
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp != exp.Unix() {
		t.Fatalf("claims %s: exp %d, want %d (%v)", payload, claims.Exp, exp.Unix(), err)
	}
	if status, _, _ := get(t, srv, "/event/21447", live); status != http.StatusOK {
		t.Errorf("a JWT before its exp: %d, want 200", status)
	}
	if status, _, m := get(t, srv, "/event/21447", dead); status != http.StatusUnauthorized || code(m) != "2006" {
		t.Errorf("a JWT past its exp: %d %v, want 401 code 2006", status, m)
	}
	if f.JWT() == live || strings.Contains(f.Credentials(), live) {
		t.Error("a minted JWT replaced the one Credentials gives")
	}
}
