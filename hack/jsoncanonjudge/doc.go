// Package jsoncanonjudge weighs the operator's one-pass canonical JSON
// (internal/jsoncanon) against a well-kept implementation of RFC 8785, the
// jsontext package of github.com/go-json-experiment/json that Go's
// encoding/json/v2 comes from. It lives in the tools' module so that the
// operator's module does not require what only the comparison needs; its
// tests say why the operator keeps its own, and `make bench-canonical`
// measures both.
package jsoncanonjudge
