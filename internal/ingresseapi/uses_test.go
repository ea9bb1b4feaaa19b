package ingresseapi_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingresse-operator/ingresse-operator/internal/fakeingresse"
	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
)

// verdict is what New does with a credentials file for one use.
type verdict int

const (
	refused verdict = iota // New fails, naming what the use needs
	served                 // New succeeds, quietly
	// servedUntilExpiry: New succeeds and warns that the JWT cannot be
	// renewed.
	servedUntilExpiry
)

// aUse is one use the client can be configured for, as Options set it.
type aUse struct {
	label string // the use label of ingresse_api_credentials_usable
	what  string // how an error names it
	needs string // what an error says it needs
	set   func(*ingresseapi.Options)
}

var theUses = []aUse{
	{"event", "reading an event (verified deliveries)", "jwt or usertoken+apikey", func(o *ingresseapi.Options) { o.ReadEvents = true }},
	{"producer_listing", "the producer listing", "jwt or usertoken+apikey", func(o *ingresseapi.Options) { o.ProducerID = producerID }},
	{"company_listing", "the company listing", "apikey", func(o *ingresseapi.Options) { o.CompanyID = 7 }},
}

// everyCombination is the table of issue 23: each of the 2^3 sets of
// credentials a file can hold, and what New does with it for each use
// (event, producer listing, company listing). A JWT is got from a
// usertoken with the apikey; the company listing takes the apikey alone.
var everyCombination = []struct {
	apikey, usertoken, jwt bool
	verdicts               [3]verdict
}{
	{false, false, false, [3]verdict{refused, refused, refused}}, // an empty file
	{true, false, false, [3]verdict{refused, refused, served}},
	{false, true, false, [3]verdict{refused, refused, refused}},
	{false, false, true, [3]verdict{servedUntilExpiry, servedUntilExpiry, refused}},
	{true, true, false, [3]verdict{served, served, served}},
	{true, false, true, [3]verdict{servedUntilExpiry, servedUntilExpiry, served}},
	{false, true, true, [3]verdict{servedUntilExpiry, servedUntilExpiry, refused}},
	{true, true, true, [3]verdict{served, served, served}},
}

// credentialsFile writes the set of credentials chosen, with jwt as the
// JWT, and returns its content.
func credentialsFile(apikey, usertoken bool, jwt string) string {
	var b strings.Builder
	if apikey {
		b.WriteString("apikey=" + fakeingresse.APIKey + "\n")
	}
	if usertoken {
		b.WriteString("usertoken=" + fakeingresse.UserToken + "\n")
	}
	if jwt != "" {
		b.WriteString("jwt=" + jwt + "\n")
	}
	return b.String()
}

func combinationName(apikey, usertoken, jwt bool) string {
	var set []string
	for i, on := range []bool{apikey, usertoken, jwt} {
		if on {
			set = append(set, []string{"apikey", "usertoken", "jwt"}[i])
		}
	}
	if len(set) == 0 {
		return "nothing"
	}
	return strings.Join(set, "+")
}

// TestNewJudgesEveryCombinationForEveryUse: New refuses, accepts, or
// accepts with a warning, each set of credentials for each use, by the one
// table; an expired JWT counts as none; the error names the use, what it
// needs and the file, never a value; the usable gauge is 1 for an
// accepted use.
func TestNewJudgesEveryCombinationForEveryUse(t *testing.T) {
	fake := fakeingresse.New()
	liveExp := time.Now().Add(time.Hour)
	live, dead := fake.MintJWT(liveExp), fake.MintJWT(time.Now().Add(-time.Minute))
	// The warning's expiresAt: the claim, to the second, in UTC.
	expiresAt := `"expiresAt"="` + time.Unix(liveExp.Unix(), 0).UTC().Format(time.RFC3339) + `"`
	for _, c := range everyCombination {
		for i, u := range theUses {
			check := func(t *testing.T, jwt string, want verdict) {
				path := filepath.Join(t.TempDir(), "credentials")
				content := credentialsFile(c.apikey, c.usertoken, jwt)
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				opts := ingresseapi.Options{CredentialsFile: path}
				u.set(&opts)
				reg, logs := prometheus.NewRegistry(), &logBuffer{}
				_, err := ingresseapi.New(opts, reg, logs.logger())
				logs.assertNoCredential(t, content)
				if want == refused {
					if err == nil {
						t.Fatalf("New accepted %q for %s", content, u.what)
					}
					msg := err.Error()
					for _, v := range []string{fakeingresse.APIKey, fakeingresse.UserToken, "fake-jwt-", live, dead} {
						if strings.Contains(msg, v) {
							t.Errorf("the error holds a credential value: %v", err)
						}
					}
					if content == "" {
						if !strings.Contains(msg, "no credential") {
							t.Errorf("an empty file: %v, want it to say there is no credential", err)
						}
						return
					}
					for _, s := range []string{u.what + " needs " + u.needs, path} {
						if !strings.Contains(msg, s) {
							t.Errorf("error %q does not say %q", msg, s)
						}
					}
					if jwt == dead && !strings.Contains(msg, "jwt expired at") {
						t.Errorf("error %q does not say the JWT expired", msg)
					}
					return
				}
				if err != nil {
					t.Fatalf("New refused %q for %s: %v", content, u.what, err)
				}
				e := &env{reg: reg}
				if got := e.metric(t, "ingresse_api_credentials_usable", "use", u.label); got != 1 {
					t.Errorf("ingresse_api_credentials_usable{use=%q} = %v, want 1", u.label, got)
				}
				warned := strings.Contains(logs.String(), "The Ingresse JWT cannot be renewed")
				if warned != (want == servedUntilExpiry) {
					t.Errorf("warned that the JWT cannot be renewed: %v, want %v; logs:\n%s", warned, want == servedUntilExpiry, logs)
				}
				if warned && !strings.Contains(logs.String(), expiresAt) {
					t.Errorf("the warning does not say when the JWT expires:\n%s", logs)
				}
			}
			name := combinationName(c.apikey, c.usertoken, c.jwt) + "/" + u.label
			t.Run(name, func(t *testing.T) {
				jwt := ""
				if c.jwt {
					jwt = live
				}
				check(t, jwt, c.verdicts[i])
			})
			if c.jwt {
				// An expired JWT is judged as no JWT at all.
				without := everyCombination[0]
				for _, o := range everyCombination {
					if o.apikey == c.apikey && o.usertoken == c.usertoken && !o.jwt {
						without = o
					}
				}
				t.Run(name+" expired", func(t *testing.T) { check(t, dead, without.verdicts[i]) })
			}
		}
	}
}

// TestReloadKeepsTheLastGoodCredentialsForEveryCombination: a file
// rotated to a set that cannot serve the use is refused (the last good set
// stays in use, the reload metric says 0, the log says why); one that can
// replaces it. Each is checked with a call of that use, which reads the
// file again.
func TestReloadKeepsTheLastGoodCredentialsForEveryCombination(t *testing.T) {
	for _, c := range everyCombination {
		for i, u := range theUses {
			t.Run(combinationName(c.apikey, c.usertoken, c.jwt)+"/"+u.label, func(t *testing.T) {
				e := newEnv(t, func(o *ingresseapi.Options, _ *string) {
					o.ProducerID = 0
					o.ReloadInterval = time.Nanosecond
					u.set(o)
				})
				e.fake.Put(fakeingresse.Fixture())
				for _, doc := range fakeingresse.SeedEvents(3, 7, producerID, time.Now()) {
					e.fake.Put(doc)
				}
				call := func() error {
					if u.label == "event" {
						_, err := e.client.Event(context.Background(), fixtureID)
						return err
					}
					_, err := e.client.List(context.Background(), 0)
					return err
				}
				if err := call(); err != nil {
					t.Fatalf("a call with the fake's credentials: %v", err)
				}
				jwt := ""
				if c.jwt {
					jwt = e.fake.MintJWT(time.Now().Add(time.Hour))
				}
				rotated := credentialsFile(c.apikey, c.usertoken, jwt)
				e.writeCredentials(t, rotated)
				if err := call(); err != nil {
					t.Fatalf("a call after the file was rotated to %q: %v", rotated, err)
				}
				want, keeping := 1.0, false
				if c.verdicts[i] == refused {
					want, keeping = 0, true
				}
				if got := e.metric(t, "ingresse_api_credentials_last_reload_successful"); got != want {
					t.Errorf("last_reload_successful = %v, want %v", got, want)
				}
				logs := e.logs.String()
				if kept := strings.Contains(logs, "Keeping the last good Ingresse credentials"); kept != keeping {
					t.Errorf("logged keeping the last good credentials: %v, want %v:\n%s", kept, keeping, logs)
				}
				if keeping && rotated != "" && !strings.Contains(logs, u.what+" needs "+u.needs) {
					t.Errorf("the log does not say what %s needs:\n%s", u.what, logs)
				}
				if got := e.metric(t, "ingresse_api_credentials_usable", "use", u.label); got != 1 {
					t.Errorf("ingresse_api_credentials_usable{use=%q} = %v, want 1", u.label, got)
				}
			})
		}
	}
}
