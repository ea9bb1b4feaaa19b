package ingresseapi

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// expiryKind is what could be read of a JWT's expiry.
type expiryKind int

const (
	// expiryUnreadable is a token that is not a JWT whose claims decode:
	// not three dot-separated parts, or a payload that is not base64url of
	// a JSON object.
	expiryUnreadable expiryKind = iota
	// expiryNone is a JWT without an exp claim.
	expiryNone
	// expiryClaim is a JWT with a numeric exp claim.
	expiryClaim
)

// maxExpiry bounds an exp claim (the year 9999): beyond it, and below
// zero, the claim is not a date and is read as unreadable.
const maxExpiry = 253402300799

// jwtExpiry reads the exp claim of a JWT without verifying its signature:
// the client cannot, and needs only to know when Ingresse will stop
// accepting the token, to say so before it happens. The claim is a JSON
// number of seconds since 1970 (RFC 7519's NumericDate), fractions
// allowed.
func jwtExpiry(token string) (time.Time, expiryKind) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, expiryUnreadable
	}
	// RFC 7515 leaves the padding out; a token that keeps it is still read.
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, expiryUnreadable
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return time.Time{}, expiryUnreadable
	}
	raw, ok := claims["exp"]
	if !ok {
		return time.Time{}, expiryNone
	}
	// raw is valid JSON: only a JSON number parses (a string keeps its
	// quotes), and one too large for a float64 is a range error.
	seconds, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || seconds < 0 || seconds > maxExpiry {
		return time.Time{}, expiryUnreadable
	}
	whole, frac := math.Modf(seconds)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), expiryClaim
}

// expired reports whether a JWT's exp claim has passed at now: RFC 7519
// accepts a token only before its exp. A JWT whose expiry cannot be read
// is not known to be expired.
func expired(token string, now time.Time) (bool, time.Time) {
	exp, kind := jwtExpiry(token)
	return kind == expiryClaim && !now.Before(exp), exp
}
