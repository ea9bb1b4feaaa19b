package ingresseapi

import (
	"fmt"
	"strings"
	"time"
)

// use is one thing a Client is configured to do with Ingresse's API. Its
// value labels ingresse_api_credentials_usable.
type use string

const (
	// useEvent is Event, which verified deliveries call (ReadEvents).
	useEvent use = "event"
	// useProducerListing is List with a ProducerID.
	useProducerListing use = "producer_listing"
	// useCompanyListing is List with a CompanyID.
	useCompanyListing use = "company_listing"
)

// credential is a key of the credentials file.
type credential string

const (
	credAPIKey    credential = "apikey"
	credUserToken credential = "usertoken"
	credJWT       credential = "jwt"
)

// need is what one use needs: every credential of at least one of anyOf.
type need struct {
	// what names the use in an error.
	what  string
	anyOf [][]credential
}

// renewal is what getting a JWT takes: GET /login/renew-token with the
// usertoken and the application's apikey, as every Ingresse SDK sends it
// (and as the fake checks): a usertoken alone gets no JWT.
var renewal = []credential{credUserToken, credAPIKey}

// bearer is what a call with "Authorization: Bearer" needs: a JWT, or what
// gets one.
var bearer = [][]credential{{credJWT}, renewal}

// needs is the one table of the credentials each use needs. New, each
// reload of the file, the readiness of verified deliveries and the
// ingresse_api_credentials_usable gauge all judge the credentials by it,
// through judge.
var needs = map[use]need{
	useEvent:           {what: "reading an event (verified deliveries)", anyOf: bearer},
	useProducerListing: {what: "the producer listing", anyOf: bearer},
	useCompanyListing:  {what: "the company listing", anyOf: [][]credential{{credAPIKey}}},
}

// uses are what the options configure the client for, in a fixed order.
func (o *Options) uses() []use {
	var us []use
	if o.ReadEvents {
		us = append(us, useEvent)
	}
	if o.ProducerID > 0 {
		us = append(us, useProducerListing)
	}
	if o.CompanyID > 0 {
		us = append(us, useCompanyListing)
	}
	return us
}

// needsBearer reports whether u can be served by a JWT.
func needsBearer(u use) bool {
	for _, alt := range needs[u].anyOf {
		if len(alt) == 1 && alt[0] == credJWT {
			return true
		}
	}
	return false
}

// canRenew reports whether the credentials can get a JWT.
func (c Credentials) canRenew() bool {
	for _, k := range renewal {
		if c.get(k) == "" {
			return false
		}
	}
	return true
}

func (c Credentials) get(k credential) string {
	switch k {
	case credAPIKey:
		return c.APIKey
	case credUserToken:
		return c.UserToken
	case credJWT:
		return c.JWT
	}
	return ""
}

// judge is the rule: nil when the credentials c, with jwt the JWT in use
// (the file's, or a renewed one), can serve u at now. A JWT counts only
// before its exp claim, when it has one. The error names the use, what it
// needs, the file and what the file holds; never a value.
func judge(u use, c Credentials, jwt, path string, now time.Time) error {
	n := needs[u]
	jwtExpired, exp := expired(jwt, now)
	has := func(k credential) bool {
		if k == credJWT {
			return jwt != "" && !jwtExpired
		}
		return c.get(k) != ""
	}
	for _, alt := range n.anyOf {
		all := true
		for _, k := range alt {
			all = all && has(k)
		}
		if all {
			return nil
		}
	}
	alts := make([]string, 0, len(n.anyOf))
	for _, alt := range n.anyOf {
		names := make([]string, 0, len(alt))
		for _, k := range alt {
			names = append(names, string(k))
		}
		alts = append(alts, strings.Join(names, "+"))
	}
	held := c.present()
	if jwt != "" && c.JWT == "" {
		held = append(held, "a renewed jwt")
	}
	for i, name := range held {
		if jwtExpired && (name == string(credJWT) || name == "a renewed jwt") {
			held[i] = fmt.Sprintf("%s expired at %s", name, exp.Format(time.RFC3339))
		}
	}
	if len(held) == 0 {
		held = []string{"none of them"}
	}
	return fmt.Errorf("%s needs %s in %s, which holds only %s", n.what, strings.Join(alts, " or "), path, strings.Join(held, ", "))
}
