package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// closedURL is a URL where nothing listens: the request fails with a
// *url.Error that quotes it.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr + "/webhooks/ingresse"
}

// TestSendNeverPrintsTheToken: a failed request's error quotes the URL;
// whether the token went into the query by --auth query, or the user put
// it in --url's query or userinfo, it is printed as REDACTED.
func TestSendNeverPrintsTheToken(t *testing.T) {
	const token = "tok-send-9e1b77c2a4"
	base := closedURL(t)
	for _, args := range [][]string{
		{"--url", base, "--token", token, "--auth", "query"},
		{"--url", base + "?token=" + token},
		{"--url", strings.Replace(base, "http://", "http://ingresse:"+token+"@", 1)},
		{"--url", base, "--token", token, "--auth", "basic"},
	} {
		var stdout, stderr bytes.Buffer
		code := runSend(append(args, "--example", "event-create", "--timeout", "2s"), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != 1 {
			t.Errorf("%v: exit %d, want 1 (the request failed)\n%s", args, code, out)
		}
		if strings.Contains(out, token) {
			t.Errorf("%v printed the token:\n%s", args, out)
		}
		if !strings.Contains(out, "event-create: ") {
			t.Errorf("%v did not report the failure:\n%s", args, out)
		}
	}
}

// TestSendPresentsTheToken: each --auth form reaches the receiver as it
// says, and the answer is printed.
func TestSendPresentsTheToken(t *testing.T) {
	const token = "tok-send-41d0"
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, password, _ := r.BasicAuth()
		got = append(got, r.Header.Get("Authorization")+"|"+r.URL.Query().Get("token")+"|"+password)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"status":"created"}`))
	}))
	defer srv.Close()
	for _, auth := range []string{"bearer", "basic", "query"} {
		var stdout, stderr bytes.Buffer
		if code := runSend([]string{"--url", srv.URL, "--token", token, "--auth", auth, "--example", "event-create"}, &stdout, &stderr); code != 0 {
			t.Fatalf("--auth %s: exit %d\n%s%s", auth, code, stdout.String(), stderr.String())
		}
		if !strings.Contains(stdout.String(), `event-create: HTTP 201 {"status":"created"}`) {
			t.Errorf("--auth %s printed %q", auth, stdout.String())
		}
	}
	want := []string{"Bearer " + token + "||", strings.SplitN(got[1], "|", 2)[0] + "||" + token, "|" + token + "|"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d carried %q, want %q", i, got[i], want[i])
		}
	}
}
