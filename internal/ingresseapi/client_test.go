package ingresseapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/ingresse-operator/ingresse-operator/internal/fakeingresse"
	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
)

const fixtureID = 21447

// testJWT is the JWT the hand-written servers below accept.
const testJWT = "hand.written.jwt"

// serveEvent is a server answering every event request with body, and
// 401 to a request without testJWT or with an apikey (the event service
// takes the JWT alone).
func serveEvent(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testJWT || r.URL.Query().Has("apikey") {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code": 6062, "message": "invalid token"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

func TestEventAcceptsEachEnvelope(t *testing.T) {
	ev := fixture(t, "event.json")
	other := strings.Replace(string(ev), `"id": 21447`, `"id": 99`, 1)
	for _, tc := range []struct {
		name string
		body string
	}{
		{"data", `{"data": ` + string(ev) + `}`},
		{"hits with _source", `{"data": {"hits": [{"_source": ` + other + `}, {"_id": "21447", "_source": ` + string(ev) + `}], "total": 2}}`},
		{"hits of bare events", `{"data": {"hits": [` + other + `, ` + string(ev) + `]}}`},
		{"bare event", string(ev)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, nil, serveEvent([]byte(tc.body)), "jwt="+testJWT, nil)
			doc, err := e.client.Event(context.Background(), fixtureID)
			if err != nil {
				t.Fatalf("Event: %v", err)
			}
			if got, want := compact(t, doc), compact(t, ev); got != want {
				t.Errorf("Event returned\n%s\nwant the fixture\n%s", got, want)
			}
		})
	}
}

func TestEventAnswersOutsideTheEnvelopes(t *testing.T) {
	ev := string(fixture(t, "event.json"))
	other := strings.Replace(ev, `"id": 21447`, `"id": 99`, 1)
	for _, tc := range []struct {
		name     string
		body     string
		notFound bool
		// inError is what the error must say for a user to fix the envelope.
		inError string
	}{
		{"a search without the event", `{"data": {"hits": [{"_source": ` + other + `}], "total": 1}}`, true, "does not hold the event"},
		{"an empty search", `{"data": {"hits": [], "total": 0}}`, true, "does not hold the event"},
		{"another event", `{"data": ` + other + `}`, false, "asked for event 21447, got event 99"},
		{"an unknown envelope", `{"result": ` + ev + `, "ok": true}`, false, `"ok", "result"`},
		{"an array", `[` + ev + `]`, false, "not an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, nil, serveEvent([]byte(tc.body)), "jwt="+testJWT, nil)
			_, err := e.client.Event(context.Background(), fixtureID)
			var apiErr *ingresseapi.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("Event: %v, want an *Error", err)
			}
			if got := ingresseapi.IsNotFound(err); got != tc.notFound {
				t.Errorf("IsNotFound = %v, want %v: %v", got, tc.notFound, err)
			}
			// What is not "not found" is an answer the client cannot read.
			if got := ingresseapi.IsUnrecognised(err); got == tc.notFound {
				t.Errorf("IsUnrecognised = %v, want %v: %v", got, !tc.notFound, err)
			}
			if !strings.Contains(err.Error(), tc.inError) {
				t.Errorf("error %q does not say %q", err, tc.inError)
			}
			// A well-formed answer in another shape is not sent again: it
			// would come back the same.
			if n := len(e.seen.with("/")); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestEventFromTheFake(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Put(fakeingresse.Fixture())

	doc, err := e.client.Event(context.Background(), fixtureID)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	if got, want := compact(t, doc), compact(t, fixture(t, "event.json")); got != want {
		t.Errorf("Event returned\n%s\nwant\n%s", got, want)
	}
	for _, r := range e.seen.with("/event/") {
		if r.authorization != "Bearer "+e.fake.JWT() || len(r.query) != 0 {
			t.Errorf("the event service got Authorization %q and query %v, want the JWT alone", r.authorization, r.query)
		}
	}

	_, err = e.client.Event(context.Background(), 404404)
	var apiErr *ingresseapi.Error
	if !errors.As(err, &apiErr) || !ingresseapi.IsNotFound(err) || apiErr.StatusCode != http.StatusNotFound || apiErr.Endpoint != ingresseapi.EndpointEvent {
		t.Fatalf("Event of a missing event: %#v, want a 404 *Error for which IsNotFound", err)
	}
	if !strings.Contains(err.Error(), "event not found") {
		t.Errorf("error %q does not carry the API's message", err)
	}
	if got := e.metric(t, "ingresse_api_requests_total", "endpoint", "event", "code", "2xx"); got != 1 {
		t.Errorf("requests_total{event,2xx} = %v, want 1", got)
	}
	if got := e.metric(t, "ingresse_api_requests_total", "endpoint", "event", "code", "4xx"); got != 1 {
		t.Errorf("requests_total{event,4xx} = %v, want 1", got)
	}
}

func TestV1ErrorIsAnError(t *testing.T) {
	e := newEnvWith(t, nil, serveEvent(fixture(t, "v1-error-not-found.json")), "jwt="+testJWT, nil)
	_, err := e.client.Event(context.Background(), fixtureID)
	var apiErr *ingresseapi.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("Event: %v, want an *Error", err)
	}
	if !ingresseapi.IsNotFound(err) || apiErr.Code != 3002 || apiErr.StatusCode != http.StatusOK || apiErr.Message != "Event not found" {
		t.Errorf("got %+v (IsNotFound %v), want code 3002 with HTTP 200, not found", apiErr, ingresseapi.IsNotFound(err))
	}
	if n := len(e.seen.with("/")); n != 1 {
		t.Errorf("%d requests, want 1: an error answer is not retried", n)
	}
}

func TestListPagesThroughTheProducersEvents(t *testing.T) {
	e := newEnv(t, func(o *ingresseapi.Options, _ *string) {
		o.PageSize = 10
		o.ListQuery = url.Values{"from": {"now-5y"}}
	})
	updated := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, doc := range fakeingresse.SeedEvents(25, 1, producerID, updated) {
		e.fake.Put(doc)
	}

	var ids []int64
	for offset, pages := 0, 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the listing does not end")
		}
		page, err := e.client.List(context.Background(), offset)
		if err != nil {
			t.Fatalf("List(%d): %v", offset, err)
		}
		if page.Total != 25 {
			t.Errorf("List(%d).Total = %d, want 25", offset, page.Total)
		}
		for _, doc := range page.Events {
			var v struct {
				ID        int64  `json:"id"`
				UpdatedAt string `json:"updatedAt"`
			}
			if err := json.Unmarshal(doc, &v); err != nil || v.UpdatedAt == "" {
				t.Fatalf("a listed event is not an event document (%v): %s", err, doc)
			}
			ids = append(ids, v.ID)
		}
		offset += len(page.Events)
		if len(page.Events) < 10 {
			break
		}
	}
	want := make([]int64, 25)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("listed ids %v, want 1 to 25 in order", ids)
	}

	reqs := e.seen.with("/event/search/producer")
	if len(reqs) != 3 {
		t.Fatalf("%d listing requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		q := url.Values(r.query)
		if q.Get("size") != "10" || q.Get("offset") != fmt.Sprint(i*10) || q.Get("from") != "now-5y" || q.Has("apikey") {
			t.Errorf("request %d has query %v, want size=10, offset=%d, from=now-5y and no apikey", i, q, i*10)
		}
		if !strings.HasPrefix(r.authorization, "Bearer ") {
			t.Errorf("request %d has no Bearer JWT", i)
		}
	}
}

func TestListReadsACompanysEvents(t *testing.T) {
	e := newEnv(t, func(o *ingresseapi.Options, _ *string) {
		o.ProducerID, o.CompanyID = 0, 7
	})
	updated := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	seven := fakeingresse.SeedEvents(8, 7, producerID, updated)
	eight := fakeingresse.SeedEvents(8, 8, producerID, updated)
	for i := range 8 {
		if i%2 == 0 {
			e.fake.Put(seven[i])
		} else {
			e.fake.Put(eight[i])
		}
	}

	page, err := e.client.List(context.Background(), 0)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(page.Events) != 4 || page.Total != 4 {
		t.Errorf("List: %d events of %d, want company 7's 4", len(page.Events), page.Total)
	}
	reqs := e.seen.with("/event-search/7")
	if len(reqs) != 1 || url.Values(reqs[0].query).Get("apikey") != fakeingresse.APIKey || reqs[0].authorization != "" {
		t.Errorf("requests to the company listing: %+v, want one with the apikey and no JWT", reqs)
	}
}

func TestListWithoutAListing(t *testing.T) {
	e := newEnv(t, func(o *ingresseapi.Options, _ *string) { o.ProducerID = 0 })
	if _, err := e.client.List(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "no listing is configured") {
		t.Errorf("List without a company or producer: %v", err)
	}
}

func TestExpiredJWTIsRenewedOnceForConcurrentCallers(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Put(fakeingresse.Fixture())
	before := e.fake.JWT()
	e.fake.ExpireJWT()

	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := e.client.Event(context.Background(), fixtureID)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Event: %v", err)
		}
	}
	if n := e.fake.Requests(fakeingresse.EndpointRenew); n != 1 {
		t.Errorf("%d renewals, want 1 for %d callers", n, callers)
	}
	if e.fake.JWT() == before {
		t.Fatal("the fake minted no JWT")
	}
	if got := e.metric(t, "ingresse_api_retries_total", "endpoint", "event", "reason", "token_renewed"); got < 1 {
		t.Errorf("retries_total{event,token_renewed} = %v, want at least 1", got)
	}
	// The renewed JWT stays in use.
	if _, err := e.client.Event(context.Background(), fixtureID); err != nil {
		t.Fatal(err)
	}
	last := e.seen.with("/event/")
	if got := last[len(last)-1].authorization; got != "Bearer "+e.fake.JWT() {
		t.Error("the last request did not carry the renewed JWT")
	}
	renewals := e.seen.with("/api/login/renew-token")
	q := url.Values(renewals[0].query)
	if q.Get("apikey") != fakeingresse.APIKey || q.Get("usertoken") != fakeingresse.UserToken || renewals[0].authorization != "Bearer "+before {
		t.Errorf("the renewal sent query %v and Authorization %q, want the apikey, the usertoken and the expired JWT", q, renewals[0].authorization)
	}
}

func TestNoJWTIsRenewedBeforeTheFirstCall(t *testing.T) {
	e := newEnv(t, func(_ *ingresseapi.Options, creds *string) { *creds = withoutKey(*creds, "jwt") })
	e.fake.Put(fakeingresse.Fixture())
	if _, err := e.client.Event(context.Background(), fixtureID); err != nil {
		t.Fatalf("Event: %v", err)
	}
	if r, ev := e.fake.Requests(fakeingresse.EndpointRenew), e.fake.Requests(fakeingresse.EndpointEvent); r != 1 || ev != 1 {
		t.Errorf("%d renewals and %d event requests, want 1 and 1", r, ev)
	}
}

func TestRenewalAnswerShapes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer []byte
		jwt    string
	}{
		{"v1 envelope", fixture(t, "renew-token.json"), "renewed.jwt.fixture"},
		{"top-level authToken", []byte(`{"authToken": "top.level.jwt"}`), "top.level.jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := fixture(t, "event.json")
			mux := http.NewServeMux()
			mux.HandleFunc("GET /api/login/renew-token", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("usertoken") != "a-user-token" {
					http.Error(w, "no usertoken", http.StatusBadRequest)
					return
				}
				_, _ = w.Write(tc.answer)
			})
			mux.HandleFunc("GET /event/{id}", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+tc.jwt {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				_, _ = w.Write(ev)
			})
			e := newEnvWith(t, nil, mux, "usertoken=a-user-token\napikey=an-api-key\n", nil)
			if _, err := e.client.Event(context.Background(), fixtureID); err != nil {
				t.Fatalf("Event: %v", err)
			}
		})
	}
}

func TestExpiredJWTWithoutUserToken(t *testing.T) {
	e := newEnv(t, func(_ *ingresseapi.Options, creds *string) { *creds = withoutKey(*creds, "usertoken") })
	e.fake.Put(fakeingresse.Fixture())
	e.fake.ExpireJWT()
	_, err := e.client.Event(context.Background(), fixtureID)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401 and no usertoken+apikey to renew the JWT") {
		t.Fatalf("Event with an expired JWT and no usertoken: %v", err)
	}
	if n := e.fake.Requests(fakeingresse.EndpointRenew); n != 0 {
		t.Errorf("%d renewals without a usertoken", n)
	}
}

func TestInvalidJWTIsNotRenewed(t *testing.T) {
	e := newEnv(t, func(_ *ingresseapi.Options, creds *string) {
		*creds = withoutKey(*creds, "jwt") + "jwt=never.minted.here\n"
	})
	e.fake.Put(fakeingresse.Fixture())
	_, err := e.client.Event(context.Background(), fixtureID)
	var apiErr *ingresseapi.Error
	if !errors.As(err, &apiErr) || apiErr.Code != 6062 || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Event with an invalid JWT: %v, want a 401 *Error with code 6062", err)
	}
	if r, ev := e.fake.Requests(fakeingresse.EndpointRenew), e.fake.Requests(fakeingresse.EndpointEvent); r != 0 || ev != 1 {
		t.Errorf("%d renewals and %d event requests, want 0 and 1", r, ev)
	}
}

func TestRetryAfterIsWaitedFor(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Put(fakeingresse.Fixture())
	e.fake.FailNext(1, http.StatusTooManyRequests, time.Second)
	if _, err := e.client.Event(context.Background(), fixtureID); err != nil {
		t.Fatalf("Event: %v", err)
	}
	reqs := e.seen.with("/event/")
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second {
		t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
	}
	if got := e.metric(t, "ingresse_api_retries_total", "endpoint", "event", "reason", "429"); got != 1 {
		t.Errorf("retries_total{event,429} = %v, want 1", got)
	}
	if got := e.metric(t, "ingresse_api_requests_total", "endpoint", "event", "code", "429"); got != 1 {
		t.Errorf("requests_total{event,429} = %v, want 1", got)
	}
}

func TestRetryAfterPastTheDeadlineReturnsAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Put(fakeingresse.Fixture())
	e.fake.FailNext(1, http.StatusTooManyRequests, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.client.Event(ctx, fixtureID)
	var apiErr *ingresseapi.Error
	if !errors.As(err, &apiErr) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Event: %v, want the 429 *Error before the deadline", err)
	}
	if apiErr.StatusCode != http.StatusTooManyRequests || apiErr.RetryAfter != time.Minute {
		t.Errorf("got HTTP %d, Retry-After %v; want 429 and 1m0s for the caller to wait", apiErr.StatusCode, apiErr.RetryAfter)
	}
	if n := e.fake.Requests(fakeingresse.EndpointEvent); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestCancellationStopsWaits(t *testing.T) {
	// Each case would wait a minute or more if cancelling did not stop it.
	run := func(t *testing.T, e *env, ctx context.Context) error {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			_, err := e.client.Event(ctx, fixtureID)
			done <- err
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("Event did not return after its context was cancelled")
			return nil
		}
	}

	t.Run("backoff", func(t *testing.T) {
		e := newEnv(t, nil)
		e.fake.Put(fakeingresse.Fixture())
		e.fake.FailNext(1, http.StatusServiceUnavailable, 2*time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			for e.fake.Requests(fakeingresse.EndpointEvent) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			cancel()
		}()
		err := run(t, e, ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Event: %v, want context.Canceled", err)
		}
		if n := e.fake.Requests(fakeingresse.EndpointEvent); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		e := newEnv(t, func(o *ingresseapi.Options, _ *string) { o.QPS = 0.01 })
		e.fake.Put(fakeingresse.Fixture())
		if _, err := e.client.Event(context.Background(), fixtureID); err != nil {
			t.Fatal(err)
		}
		// The next token is 100s away.
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		err := run(t, e, ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Event: %v, want context.Canceled", err)
		}
		if n := e.fake.Requests(fakeingresse.EndpointEvent); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestServerErrorStorms(t *testing.T) {
	e := newEnv(t, func(o *ingresseapi.Options, _ *string) { o.MaxAttempts = 4 })
	e.fake.Put(fakeingresse.Fixture())

	e.fake.FailNext(3, http.StatusServiceUnavailable, 0)
	if _, err := e.client.Event(context.Background(), fixtureID); err != nil {
		t.Fatalf("Event after 3 failures, with 4 attempts: %v", err)
	}
	if n := e.fake.Requests(fakeingresse.EndpointEvent); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	if got := e.metric(t, "ingresse_api_retries_total", "endpoint", "event", "reason", "5xx"); got != 3 {
		t.Errorf("retries_total{event,5xx} = %v, want 3", got)
	}

	e.fake.FailNext(4, http.StatusInternalServerError, 0)
	_, err := e.client.Event(context.Background(), fixtureID)
	var apiErr *ingresseapi.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("Event after 4 failures, with 4 attempts: %v, want an *Error", err)
	}
	if apiErr.StatusCode != http.StatusInternalServerError || apiErr.Attempts != 4 || ingresseapi.IsNotFound(err) {
		t.Errorf("got %+v, want HTTP 500 after 4 attempts", apiErr)
	}
	if n := e.fake.Requests(fakeingresse.EndpointEvent); n != 8 {
		t.Errorf("%d requests, want 8", n)
	}
}

func TestMalformedPageIsRetried(t *testing.T) {
	e := newEnv(t, func(o *ingresseapi.Options, _ *string) { o.MaxAttempts = 3 })
	for _, doc := range fakeingresse.SeedEvents(3, 1, producerID, time.Now()) {
		e.fake.Put(doc)
	}

	e.fake.MalformNext(1)
	page, err := e.client.List(context.Background(), 0)
	if err != nil || len(page.Events) != 3 {
		t.Fatalf("List after a truncated page: %d events, %v", len(page.Events), err)
	}
	if got := e.metric(t, "ingresse_api_retries_total", "endpoint", "list", "reason", "malformed"); got != 1 {
		t.Errorf("retries_total{list,malformed} = %v, want 1", got)
	}

	e.fake.MalformNext(3)
	_, err = e.client.List(context.Background(), 0)
	var apiErr *ingresseapi.Error
	if !errors.As(err, &apiErr) || !strings.Contains(err.Error(), "not JSON") || apiErr.Attempts != 3 {
		t.Fatalf("List after 3 truncated pages: %v", err)
	}
	if n := e.fake.Requests(fakeingresse.EndpointList); n != 5 {
		t.Errorf("%d listing requests, want 5", n)
	}
}

func TestErrorsHoldNoCredential(t *testing.T) {
	// A server that is gone: the Go client's error names the URL it
	// called, apikey included, unless the client strips it.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	e := newEnv(t, func(o *ingresseapi.Options, _ *string) {
		o.ProducerID, o.CompanyID = 0, 7
		o.SearchURL = gone.URL
		o.MaxAttempts = 2
	})
	_, err := e.client.List(context.Background(), 0)
	var apiErr *ingresseapi.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 0 {
		t.Fatalf("List from a closed server: %v, want an *Error without status", err)
	}
	if strings.Contains(err.Error(), fakeingresse.APIKey) || strings.Contains(err.Error(), "apikey") {
		t.Errorf("the error holds the apikey: %v", err)
	}
	if got := e.metric(t, "ingresse_api_retries_total", "endpoint", "list", "reason", "network"); got != 1 {
		t.Errorf("retries_total{list,network} = %v, want 1", got)
	}
	if got := e.metric(t, "ingresse_api_requests_total", "endpoint", "list", "code", "error"); got != 2 {
		t.Errorf("requests_total{list,error} = %v, want 2", got)
	}

	// An API that echoes what it was sent.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": 400, "message": "bad request: " + r.Header.Get("Authorization")})
	})
	e = newEnvWith(t, nil, echo, "jwt=an-echoed-jwt\n", nil)
	_, err = e.client.Event(context.Background(), fixtureID)
	if err == nil || strings.Contains(err.Error(), "an-echoed-jwt") || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("Event from an API that echoes the JWT: %v", err)
	}
}

func TestReloadedFileReplacesTheJWT(t *testing.T) {
	// Without a usertoken the client cannot renew: only the file gives it
	// a working JWT.
	e := newEnv(t, func(o *ingresseapi.Options, creds *string) {
		o.ReloadInterval = time.Nanosecond
		*creds = withoutKey(*creds, "usertoken")
	})
	e.fake.Put(fakeingresse.Fixture())
	if _, err := e.client.Event(context.Background(), fixtureID); err != nil {
		t.Fatal(err)
	}
	e.fake.ExpireJWT()
	if _, err := e.client.Event(context.Background(), fixtureID); err == nil {
		t.Fatal("Event with an expired JWT succeeded")
	}

	// Someone gets a new JWT and puts it in the Secret.
	resp, err := http.Get(e.srv.URL + "/api/login/renew-token?" + url.Values{"apikey": {fakeingresse.APIKey}, "usertoken": {fakeingresse.UserToken}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	e.writeCredentials(t, withoutKey(e.fake.Credentials(), "usertoken"))
	if _, err := e.client.Event(context.Background(), fixtureID); err != nil {
		t.Fatalf("Event after the file got a new JWT: %v", err)
	}
	if got := e.metric(t, "ingresse_api_credentials_last_reload_successful"); got != 1 {
		t.Errorf("last_reload_successful = %v, want 1", got)
	}
	loaded := e.metric(t, "ingresse_api_credentials_loaded_timestamp_seconds")
	if loaded < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("loaded_timestamp_seconds = %v, want about now", loaded)
	}

	// A broken file keeps the last good credentials.
	e.writeCredentials(t, "jwt=a-jwt-on-a-bad-file\nthis line leaks\n")
	if _, err := e.client.Event(context.Background(), fixtureID); err != nil {
		t.Fatalf("Event after the file broke: %v", err)
	}
	if got := e.metric(t, "ingresse_api_credentials_last_reload_successful"); got != 0 {
		t.Errorf("last_reload_successful = %v, want 0", got)
	}
	if got := e.metric(t, "ingresse_api_credentials_loaded_timestamp_seconds"); got != loaded {
		t.Errorf("loaded_timestamp_seconds moved from %v to %v on a failed read", loaded, got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "Keeping the last good Ingresse credentials") {
		t.Errorf("the failed read is not logged:\n%s", logs)
	}
	for _, s := range []string{"a-jwt-on-a-bad-file", "this line leaks", e.fake.JWT()} {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold %q:\n%s", s, logs)
		}
	}
}

func TestRateLimitBoundsRequests(t *testing.T) {
	e := newEnv(t, func(o *ingresseapi.Options, _ *string) { o.QPS = 1 })
	e.fake.Put(fakeingresse.Fixture())
	// With one request a second and a burst of one, requests are granted
	// at 0s, 1s, 2s...: within 1.5s, two.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	const callers = 10
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := e.client.Event(ctx, fixtureID)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if errors.Is(err, context.DeadlineExceeded) {
			refused++
		}
	}
	if n := e.fake.Requests(fakeingresse.EndpointEvent); n != 2 {
		t.Errorf("%d requests within 1.5s at 1 QPS, want 2", n)
	}
	if refused != callers-2 {
		t.Errorf("%d calls refused by the deadline, want %d", refused, callers-2)
	}
}

func TestNewRefusesAMisconfiguration(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name    string
		opts    ingresseapi.Options
		creds   string
		inError string
	}{
		{"no file", ingresseapi.Options{}, "", "no credentials file"},
		{"missing file", ingresseapi.Options{CredentialsFile: dir + "/missing"}, "", "reading the Ingresse credentials file"},
		{"invalid file", ingresseapi.Options{CredentialsFile: e.credsPath + "-bad"}, "apikey=the-api-key\nsecret-without-key\n", "line 2"},
		{"both listings", ingresseapi.Options{CredentialsFile: e.credsPath, CompanyID: 1, ProducerID: 2}, "", "both a company id and a producer id"},
		{"credential in the listing query", ingresseapi.Options{CredentialsFile: e.credsPath, ListQuery: url.Values{"apikey": {"x"}}}, "", `"apikey"`},
		{"userinfo in a URL", ingresseapi.Options{CredentialsFile: e.credsPath, EventURL: "https://user:hunter2@event.example"}, "", "without userinfo"},
		{"producer listing without a JWT or usertoken", ingresseapi.Options{CredentialsFile: e.credsPath + "-apikey", ProducerID: 2}, "apikey=the-api-key\n", "the producer listing needs jwt or usertoken+apikey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.creds != "" {
				if err := os.WriteFile(tc.opts.CredentialsFile, []byte(tc.creds), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ingresseapi.New(tc.opts, nil, logr.Discard())
			if err == nil || !strings.Contains(err.Error(), tc.inError) {
				t.Fatalf("New: %v, want an error saying %q", err, tc.inError)
			}
			for _, secret := range []string{"hunter2", "the-api-key", "secret-without-key"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error holds %q: %v", secret, err)
				}
			}
		})
	}
}

func TestListReadsTheFixturePage(t *testing.T) {
	body := fixture(t, "list-page.json")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) })
	e := newEnvWith(t, nil, h, "apikey=fixture-api-key\n", func(o *ingresseapi.Options, _ *string) {
		o.ProducerID, o.CompanyID = 0, 1
	})
	page, err := e.client.List(context.Background(), 0)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(page.Events) != 2 || page.Total != 2 {
		t.Fatalf("List: %d events of %d, want 2 of 2", len(page.Events), page.Total)
	}
	if got, want := compact(t, page.Events[0]), compact(t, fixture(t, "event.json")); got != want {
		t.Errorf("the first hit is\n%s\nwant the event fixture\n%s", got, want)
	}
}
