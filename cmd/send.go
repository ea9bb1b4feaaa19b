package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ingresse-operator/ingresse-operator/webhookreceiver"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

const sendUsage = `usage: manager send [flags]

Posts webhook deliveries to a receiver, as Ingresse would, and prints each
answer: a JSON file (--file), one of Ingresse's published examples
(--example event-create|event-update), or both examples when neither is given.
Exits 0 when every answer is 2xx, 1 otherwise, 2 on a usage error.

Flags:
`

// runSend is the `manager send` subcommand.
func runSend(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, sendUsage)
		fs.PrintDefaults()
	}
	target := fs.String("url", "http://127.0.0.1:8082/webhooks/ingresse", "the receiver's URL")
	token := fs.String("token", "", "token to authenticate with (or --token-file)")
	tokenFile := fs.String("token-file", "", "file whose first token line is used")
	auth := fs.String("auth", "bearer", "how to present the token: bearer, basic or query")
	file := fs.String("file", "", "JSON file to post (a whole envelope: {webhook, data, timestamp})")
	example := fs.String("example", "", "post one of Ingresse's examples: event-create or event-update")
	secretFile := fs.String("signing-secret-file", "", "sign with the first Standard Webhooks secret (whsec_...) in this file")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each request")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	deliveries, err := sendDeliveries(*file, *example)
	if err == nil && *tokenFile != "" {
		*token, err = firstLine(*tokenFile)
	}
	var secret string
	if err == nil && *secretFile != "" {
		secret, err = firstLine(*secretFile)
	}
	if err == nil && *auth != "bearer" && *auth != "basic" && *auth != "query" {
		err = fmt.Errorf("--auth must be bearer, basic or query, not %q", *auth)
	}
	if err != nil {
		fmt.Fprintln(stderr, "send:", err)
		return 2
	}

	httpClient := &http.Client{Timeout: *timeout}
	failed := false
	for _, d := range deliveries {
		code, body, err := post(httpClient, *target, *token, *auth, secret, d.Body)
		if err != nil {
			fmt.Fprintf(stdout, "%s: %s\n", d.Name, redacted(err, *token))
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "%s: HTTP %d %s\n", d.Name, code, strings.TrimSpace(string(body)))
		failed = failed || code < 200 || code > 299
	}
	if failed {
		return 1
	}
	return 0
}

// sendDeliveries picks what to post.
func sendDeliveries(file, example string) ([]examples.Example, error) {
	switch {
	case file != "" && example != "":
		return nil, errors.New("give --file or --example, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return []examples.Example{{Name: file, Body: b}}, nil
	case example != "":
		for _, ex := range examples.All() {
			if ex.Name == example {
				return []examples.Example{ex}, nil
			}
		}
		return nil, fmt.Errorf("--example must be event-create or event-update, not %q", example)
	default:
		return examples.All(), nil
	}
}

// post sends one delivery and returns the answer.
func post(c *http.Client, target, token, auth, secret string, body []byte) (int, []byte, error) {
	if token != "" && auth == "query" {
		u, err := url.Parse(target)
		if err != nil {
			return 0, nil, err
		}
		q := u.Query()
		q.Set("token", token)
		u.RawQuery = q.Encode()
		target = u.String()
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case token == "":
	case auth == "bearer":
		req.Header.Set("Authorization", "Bearer "+token)
	case auth == "basic":
		req.SetBasicAuth("ingresse", token)
	}
	if secret != "" {
		id := make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return 0, nil, err
		}
		headers, err := webhookreceiver.SignatureHeaders(secret, "msg_"+hex.EncodeToString(id), time.Now(), body)
		if err != nil {
			return 0, nil, err
		}
		for k, v := range headers {
			req.Header[k] = v
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, answer, err
}

// redacted is err's message without a token: the *url.Error of a failed
// request quotes the URL, whose query or userinfo may hold one.
func redacted(err error, token string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			if u.User != nil {
				u.User = url.UserPassword(u.User.Username(), "REDACTED")
			}
			if q := u.Query(); q.Has("token") {
				q.Set("token", "REDACTED")
				u.RawQuery = q.Encode()
			}
			ue.URL = u.Redacted()
		}
	}
	msg := err.Error()
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "REDACTED")
		msg = strings.ReplaceAll(msg, url.QueryEscape(token), "REDACTED")
	}
	return msg
}

// firstLine returns the first line of a file that is neither blank nor a
// comment.
func firstLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line, nil
		}
	}
	return "", fmt.Errorf("%s holds no token", path)
}
