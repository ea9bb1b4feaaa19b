// Package fakeingresse is a local stand-in for the parts of Ingresse's API
// that internal/ingresseapi reads: one event, a producer's listing, a
// company's listing, and the JWT renewal. It answers in the shapes
// Ingresse's SDKs read, and can be told to fail in the ways a real API
// does (5xx and 429 storms, slow pages, truncated answers, an expired JWT).
//
// Tests in several packages and `make dev` use it; when the real API turns
// out to differ, internal/ingresseapi and this fake change together.
package fakeingresse

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The fake's application key and user token, the ones Credentials puts in
// its file.
const (
	APIKey    = "fake-apikey-4c1f09"
	UserToken = "fake-usertoken-93b2d7"
)

// Endpoint names, as Requests counts them.
const (
	EndpointEvent = "event"
	EndpointList  = "list"
	EndpointRenew = "renew"
)

// Error codes the fake answers with: the ones Ingresse's SDKs act on.
const (
	codeTokenExpired = 2006
	codeTokenInvalid = 6062
)

// Fake is an in-memory Ingresse API. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	events map[int64]stored
	// jwts is every JWT minted: true while valid, false once expired.
	jwts    map[string]bool
	current string
	minted  int
	// expires holds the exp claim of the JWTs MintJWT minted: they are
	// expired from then on.
	expires map[string]time.Time

	failN          int
	failStatus     int
	failRetryAfter time.Duration
	malformN       int
	pageDelay      time.Duration
	requests       map[string]int
	// totalCap, when positive, makes listings count as Elasticsearch
	// does past its tracking limit: {"value": cap, "relation": "gte"}.
	totalCap int
}

// stored is an event document and the member the company listing filters
// on.
type stored struct {
	doc       json.RawMessage
	companyID int64
}

// New returns an empty fake with one valid JWT.
func New() *Fake {
	f := &Fake{events: map[int64]stored{}, jwts: map[string]bool{}, expires: map[string]time.Time{}, requests: map[string]int{}}
	f.mintLocked()
	return f
}

func (f *Fake) mintLocked() string {
	f.minted++
	f.current = fmt.Sprintf("fake-jwt-%d-%08x", f.minted, uint32(f.minted)*2654435761)
	f.jwts[f.current] = true
	return f.current
}

// Handler serves GET /event/{id}, GET /event/search/producer,
// GET /event-search/{companyId} and GET /api/login/renew-token: a client
// points its event URL at /event, its search URL at /event-search and its
// API URL at /api.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /event/search/producer", f.listProducer)
	mux.HandleFunc("GET /event/{id}", f.event)
	mux.HandleFunc("GET /event-search/{companyId}", f.listCompany)
	mux.HandleFunc("GET /api/login/renew-token", f.renew)
	return mux
}

// Credentials is the content of a credentials file that works with this
// fake: its apikey, its usertoken and its newest JWT.
func (f *Fake) Credentials() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("apikey=%s\nusertoken=%s\njwt=%s\n", APIKey, UserToken, f.current)
}

// MintJWT returns a JWT in the shape Ingresse issues (header.payload.
// signature, base64url) whose exp claim is exp, to the whole second: the
// fake accepts it until then (and until ExpireJWT), and answers it as
// expired after. It is not the one Credentials and renewals use. Its
// signature holds "fake-jwt-", which tests search logs for.
func (f *Fake) MintJWT(exp time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.minted++
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload := enc.EncodeToString(fmt.Appendf(nil, `{"sub":"fake-user","exp":%d}`, exp.Unix()))
	jwt := fmt.Sprintf("%s.%s.fake-jwt-%d-%08x", header, payload, f.minted, uint32(f.minted)*2654435761)
	f.jwts[jwt] = true
	f.expires[jwt] = time.Unix(exp.Unix(), 0)
	return jwt
}

// JWT is the newest JWT minted, valid unless ExpireJWT was called since.
func (f *Fake) JWT() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current
}

// Put stores doc, or replaces the event with its id. doc must be a JSON
// object with a positive integer id: anything else is a bug in the test,
// and panics.
func (f *Fake) Put(doc json.RawMessage) {
	var v struct {
		ID        json.Number `json:"id"`
		CompanyID json.Number `json:"companyId"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		panic(fmt.Sprintf("fakeingresse: Put: not an event document: %v", err))
	}
	id, err := strconv.ParseInt(v.ID.String(), 10, 64)
	if err != nil || id <= 0 {
		panic(fmt.Sprintf("fakeingresse: Put: the id %q is not a positive integer", v.ID))
	}
	company, _ := strconv.ParseInt(v.CompanyID.String(), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events[id] = stored{doc: slices.Clone(doc), companyID: company}
}

// Delete removes event id, if stored.
func (f *Fake) Delete(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.events, id)
}

// Get returns a copy of event id's document.
func (f *Fake) Get(id int64) (json.RawMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.events[id]
	return slices.Clone(s.doc), ok
}

// Len is the number of events stored.
func (f *Fake) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

// FailNext makes the next n requests, to any endpoint but the renewal,
// answer status with a v2 error, and a Retry-After header when retryAfter
// is positive (in whole seconds, rounded up).
func (f *Fake) FailNext(n, status int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failN, f.failStatus, f.failRetryAfter = n, status, retryAfter
}

// SetPageDelay makes every listing page wait d before it answers.
func (f *Fake) SetPageDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageDelay = d
}

// MalformNext makes the next n listing answers truncated JSON, with HTTP
// 200.
func (f *Fake) MalformNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.malformN = n
}

// ExpireJWT expires every JWT minted so far: they are answered HTTP 401
// with code 2006 until a renewal with the right usertoken mints a new one.
func (f *Fake) ExpireJWT() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.jwts {
		f.jwts[k] = false
	}
}

// Requests is how many requests an endpoint received (EndpointEvent,
// EndpointList or EndpointRenew), failed ones included.
func (f *Fake) Requests(endpoint string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[endpoint]
}

// begin counts a request and answers it with the injected failure, if one
// is due; false means it was answered.
func (f *Fake) begin(w http.ResponseWriter, endpoint string) bool {
	f.mu.Lock()
	f.requests[endpoint]++
	fail := endpoint != EndpointRenew && f.failN > 0
	status, retryAfter := f.failStatus, f.failRetryAfter
	if fail {
		f.failN--
	}
	f.mu.Unlock()
	if !fail {
		return true
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
	}
	writeError(w, status, status, http.StatusText(status))
	return false
}

// authorize checks the Bearer JWT; false means it was answered.
func (f *Fake) authorize(w http.ResponseWriter, r *http.Request) bool {
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || jwt == "" {
		writeError(w, http.StatusUnauthorized, http.StatusUnauthorized, "authorization required")
		return false
	}
	f.mu.Lock()
	valid, known := f.jwts[jwt]
	if exp, ok := f.expires[jwt]; ok && !time.Now().Before(exp) {
		valid = false
	}
	f.mu.Unlock()
	switch {
	case !known:
		writeError(w, http.StatusUnauthorized, codeTokenInvalid, "invalid token")
		return false
	case !valid:
		writeError(w, http.StatusUnauthorized, codeTokenExpired, "token expired")
		return false
	}
	return true
}

func (f *Fake) event(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, EndpointEvent) || !f.authorize(w, r) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "the event id is not a positive integer")
		return
	}
	doc, ok := f.Get(id)
	if !ok {
		writeError(w, http.StatusNotFound, http.StatusNotFound, "event not found")
		return
	}
	// The document goes out byte for byte as it was put.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(slices.Concat([]byte(`{"data": `), doc, []byte("}")))
}

func (f *Fake) listProducer(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, EndpointList) || !f.authorize(w, r) {
		return
	}
	// The JWT's user sees every event of the fake.
	f.list(w, r, func(stored) bool { return true })
}

func (f *Fake) listCompany(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, EndpointList) {
		return
	}
	if r.URL.Query().Get("apikey") != APIKey {
		writeError(w, http.StatusUnauthorized, http.StatusUnauthorized, "invalid apikey")
		return
	}
	company, err := strconv.ParseInt(r.PathValue("companyId"), 10, 64)
	if err != nil || company <= 0 {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "the company id is not a positive integer")
		return
	}
	f.list(w, r, func(s stored) bool { return s.companyID == company })
}

// SetTotalCap makes listings report their total as Elasticsearch 7 does
// with track_total_hits at n: {"value": N, "relation": "eq"} up to n
// events, {"value": n, "relation": "gte"} past it. 0 goes back to a plain
// number.
func (f *Fake) SetTotalCap(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.totalCap = n
}

// totalLocked is how a listing of n events reports its total.
func (f *Fake) totalLocked(n int) any {
	switch {
	case f.totalCap <= 0:
		return n
	case n > f.totalCap:
		return map[string]any{"value": f.totalCap, "relation": "gte"}
	default:
		return map[string]any{"value": n, "relation": "eq"}
	}
}

// list answers one page of the events keep selects, by id ascending.
func (f *Fake) list(w http.ResponseWriter, r *http.Request, keep func(stored) bool) {
	size, errSize := queryInt(r, "size", 10)
	offset, errOffset := queryInt(r, "offset", 0)
	if errSize != nil || errOffset != nil || size < 1 || size > 1000 || offset < 0 {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "size must be 1 to 1000 and offset 0 or more")
		return
	}
	f.mu.Lock()
	delay := f.pageDelay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(delay):
		}
	}

	f.mu.Lock()
	ids := make([]int64, 0, len(f.events))
	for id, s := range f.events {
		if keep(s) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	type hit struct {
		Source json.RawMessage `json:"_source"`
	}
	hits := []hit{}
	for _, id := range ids[min(offset, len(ids)):min(offset+size, len(ids))] {
		hits = append(hits, hit{Source: f.events[id].doc})
	}
	malform := f.malformN > 0
	if malform {
		f.malformN--
	}
	total := f.totalLocked(len(ids))
	f.mu.Unlock()

	body, err := json.Marshal(map[string]any{"data": map[string]any{"hits": hits, "total": total}})
	if err != nil {
		writeError(w, http.StatusInternalServerError, http.StatusInternalServerError, err.Error())
		return
	}
	if malform {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// renew answers GET /login/renew-token as v1 does: HTTP 200 with either
// responseData.authToken or a responseError.
func (f *Fake) renew(w http.ResponseWriter, r *http.Request) {
	f.begin(w, EndpointRenew)
	q := r.URL.Query()
	if q.Get("apikey") != APIKey || q.Get("usertoken") != UserToken {
		writeJSON(w, http.StatusOK, map[string]any{
			"responseData":   nil,
			"responseError":  map[string]any{"category": "AUTH", "code": codeTokenInvalid, "message": "invalid apikey or usertoken"},
			"responseStatus": http.StatusOK,
		})
		return
	}
	f.mu.Lock()
	jwt := f.mintLocked()
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"responseData":   map[string]any{"authToken": jwt, "userId": 1},
		"responseStatus": http.StatusOK,
	})
}

func queryInt(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}

// writeError answers a v2 error: a real status code and {code, message,
// info}.
func writeError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{"code": code, "message": message, "info": nil})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"code":500,"message":"encoding the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
