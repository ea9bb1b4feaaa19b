package webhookreceiver

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// How a delivery authenticates.
//
// Ingresse can be given a URL and nothing else, so a token must fit in the
// URL: in the query (?token=...) or as the password of the URL's userinfo
// (https://ingresse:TOKEN@host/..., which HTTP clients send as basic auth).
// Other senders may use a bearer token. Any one of the three is enough.
//
// When signing secrets are configured, a delivery that carries Standard
// Webhooks headers is judged by its signature alone: a valid signature
// authenticates it without a token, and an invalid, incomplete or expired
// one is refused even if a valid token comes with it (whoever sent the
// headers meant them to be checked). The signature covers the body, so for
// such a delivery the size-limited body is read before the signature is
// verified; the header checks (completeness, timestamp tolerance) still
// happen before.
//
// Tokens are compared as SHA-256 digests in constant time, against every
// configured token without stopping at a match. They are never logged, put
// in a metric label or an event, or echoed in an answer.

const (
	// tokenQueryParameter is the query parameter that carries a token.
	tokenQueryParameter = "token"
	// maxPresentedTokens bounds the comparisons one request can cause.
	maxPresentedTokens = 4
)

// authDecision is what authenticate concluded before the body is read.
type authDecision struct {
	// signature, when not nil, must verify against the body before the
	// delivery is accepted.
	signature *signedHeaders
}

// authenticate checks a delivery's credentials without reading its body.
func (s *Server) authenticate(r *http.Request) (authDecision, error) {
	tokens, secrets := s.tokens.get(), s.secrets.get()
	if secrets.len() > 0 {
		if sh, present := signatureHeaders(r.Header); present {
			if err := sh.checkFresh(s.now()); err != nil {
				return authDecision{}, errUnauthorized("invalid webhook signature")
			}
			return authDecision{signature: &sh}, nil
		}
	}
	if tokens.len() == 0 && secrets.len() == 0 && s.opts.InsecureSkipAuth {
		return authDecision{}, nil
	}
	if !tokens.matches(presentedTokens(r)) {
		return authDecision{}, errUnauthorized("missing or invalid credentials")
	}
	return authDecision{}, nil
}

// verifySignature checks a signed delivery's body once it has been read.
func (s *Server) verifySignature(d authDecision, body []byte) error {
	if d.signature != nil && !d.signature.verify(s.secrets.get(), body) {
		return errUnauthorized("invalid webhook signature")
	}
	return nil
}

// presentedTokens returns the tokens a request carries: a bearer token, a
// basic-auth password (any user name) and token query parameters.
func presentedTokens(r *http.Request) []string {
	var tokens []string
	add := func(t string) {
		if t != "" && len(tokens) < maxPresentedTokens {
			tokens = append(tokens, t)
		}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			add(strings.TrimSpace(rest))
		case strings.EqualFold(scheme, "Basic"):
			if _, password, ok := r.BasicAuth(); ok {
				add(password)
			}
		}
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		// ParseQuery keeps the pairs it can parse; a malformed pair
		// elsewhere in the query does not hide the token.
		q, _ := url.ParseQuery(r.URL.RawQuery)
		for _, t := range q[tokenQueryParameter] {
			add(t)
		}
	}
	return tokens
}

// matches reports whether any presented token is in the set. Every
// presented token is compared with every configured one.
func (t *tokenSet) matches(presented []string) bool {
	if t == nil {
		return false
	}
	match := 0
	for _, p := range presented {
		d := sha256.Sum256([]byte(p))
		for i := range t.digests {
			match |= subtle.ConstantTimeCompare(d[:], t.digests[i][:])
		}
	}
	return match == 1
}
