package webhookreceiver

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks (https://www.standardwebhooks.com) signing. Ingresse
// cannot sign; this serves senders that can (a relay in front of the
// receiver, another system delivering the same envelope).
const (
	headerWebhookID        = "Webhook-Id"
	headerWebhookTimestamp = "Webhook-Timestamp"
	headerWebhookSignature = "Webhook-Signature"

	signingSecretPrefix = "whsec_"
	// signatureTolerance bounds how far the signed timestamp may be from
	// the receiver's clock, either way, so that a captured delivery cannot
	// be replayed later.
	signatureTolerance = 5 * time.Minute
	// maxSignatures bounds the work one header can cause.
	maxSignatures = 8
)

// secretSet is the accepted signing secrets, decoded.
type secretSet struct {
	keys [][]byte
}

func (s *secretSet) len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// parseSigningSecrets reads one whsec_<base64> secret per line. Blank lines
// and lines starting with # are ignored; a file with none is an empty set.
// Errors name the line number, never its content.
func parseSigningSecrets(b []byte) (*secretSet, error) {
	set := &secretSet{}
	for i, line := range credentialLines(b) {
		encoded, ok := strings.CutPrefix(string(line), signingSecretPrefix)
		if !ok {
			return nil, fmt.Errorf("secret %d does not start with %s", i+1, signingSecretPrefix)
		}
		key, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("secret %d is not %s followed by base64", i+1, signingSecretPrefix)
		}
		set.keys = append(set.keys, key)
	}
	return set, nil
}

// SignatureHeaders signs body the Standard Webhooks way, for a sender
// (such as `manager send`) that delivers to a receiver configured with the
// same secret: secret is whsec_<base64>, id names the message and at is the
// signing time, which the receiver accepts within 5 minutes of its clock.
func SignatureHeaders(secret, id string, at time.Time, body []byte) (http.Header, error) {
	set, err := parseSigningSecrets([]byte(secret))
	if err != nil {
		return nil, fmt.Errorf("signing secret: %w", err)
	}
	if set.len() != 1 {
		return nil, errors.New("signing secret: want exactly one")
	}
	if id == "" {
		return nil, errors.New("a message id is required to sign")
	}
	timestamp := strconv.FormatInt(at.Unix(), 10)
	return http.Header{
		headerWebhookID:        {id},
		headerWebhookTimestamp: {timestamp},
		headerWebhookSignature: {"v1," + base64.StdEncoding.EncodeToString(sign(set.keys[0], id, timestamp, body))},
	}, nil
}

// signedHeaders are a delivery's Standard Webhooks headers.
type signedHeaders struct {
	id, timestamp, signature string
}

// signatureHeaders returns the Standard Webhooks headers and whether any of
// them is present: a delivery that carries one is judged by its signature.
func signatureHeaders(h http.Header) (signedHeaders, bool) {
	s := signedHeaders{
		id:        h.Get(headerWebhookID),
		timestamp: h.Get(headerWebhookTimestamp),
		signature: h.Get(headerWebhookSignature),
	}
	return s, s.id != "" || s.timestamp != "" || s.signature != ""
}

// checkFresh verifies what can be verified before the body is read: every
// header is there and the timestamp is within the tolerance of now.
func (s signedHeaders) checkFresh(now time.Time) error {
	if s.id == "" || s.timestamp == "" || s.signature == "" {
		return errors.New("incomplete signature headers")
	}
	ts, err := strconv.ParseInt(s.timestamp, 10, 64)
	if err != nil {
		return errors.New("signature timestamp is not a number of seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > signatureTolerance || d < -signatureTolerance {
		return errors.New("signature timestamp is outside the tolerance")
	}
	return nil
}

// verify checks the signature over id.timestamp.body against every secret
// and every v1 signature in the header, in constant time per comparison
// and without stopping at the first match, so that the time taken says
// nothing about which secret or signature was close.
func (s signedHeaders) verify(secrets *secretSet, body []byte) bool {
	if secrets.len() == 0 {
		return false
	}
	var given [][]byte
	for i, field := range strings.Fields(s.signature) {
		if i == maxSignatures {
			break
		}
		version, sig, ok := strings.Cut(field, ",")
		if !ok || version != "v1" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || len(raw) != sha256.Size {
			continue
		}
		given = append(given, raw)
	}
	match := 0
	for _, key := range secrets.keys {
		expected := sign(key, s.id, s.timestamp, body)
		for _, g := range given {
			match |= subtle.ConstantTimeCompare(expected, g)
		}
	}
	return match == 1
}

// sign computes the Standard Webhooks v1 signature.
func sign(key []byte, id, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}
