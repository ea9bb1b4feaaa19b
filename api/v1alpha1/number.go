package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Number is a JSON number kept as the text Ingresse sent (e.g. -10.59), so
// that no float conversion in the operator changes it. Kubernetes API
// conventions avoid float fields; this type is a number on the wire and in
// the schema, and a decimal string in Go.
//
// +kubebuilder:validation:Type=number
type Number string

// MarshalJSON writes the number as a JSON number.
func (n Number) MarshalJSON() ([]byte, error) {
	if n == "" {
		return []byte("null"), nil
	}
	if !json.Valid([]byte(n)) {
		return nil, fmt.Errorf("%q is not a JSON number", string(n))
	}
	return []byte(n), nil
}

// UnmarshalJSON reads a JSON number; a string or any other type is an error.
func (n *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) || !json.Valid(b) {
		return fmt.Errorf("expected a number, got %.32s", b) // at most 32 runes of what was sent
	}
	if _, err := strconv.ParseFloat(string(b), 64); err != nil {
		return fmt.Errorf("number %.32s is out of range", b)
	}
	*n = Number(b)
	return nil
}

// Float64 returns the number as a float64.
func (n Number) Float64() (float64, error) {
	return strconv.ParseFloat(string(n), 64)
}
