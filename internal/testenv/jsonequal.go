package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
)

// JSONEqual reports whether two JSON documents hold the same members and
// values, comparing numbers by value (100000.0 equals 100000, -10.59 equals
// -10.59) and null as a value of its own. When they differ, it says where.
func JSONEqual(a, b []byte) (bool, string) {
	va, err := decodeJSON(a)
	if err != nil {
		return false, "first document: " + err.Error()
	}
	vb, err := decodeJSON(b)
	if err != nil {
		return false, "second document: " + err.Error()
	}
	if where := jsonDiff("$", va, vb); where != "" {
		return false, where
	}
	return true, ""
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func jsonDiff(path string, a, b any) string {
	switch va := a.(type) {
	case map[string]any:
		vb, ok := b.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: object vs %T", path, b)
		}
		keys := make([]string, 0, len(va)+len(vb))
		for k := range va {
			keys = append(keys, k)
		}
		for k := range vb {
			if _, ok := va[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			ea, okA := va[k]
			eb, okB := vb[k]
			if !okA || !okB {
				return fmt.Sprintf("%s.%s: present only in the %s document", path, k, map[bool]string{true: "first", false: "second"}[okA])
			}
			if d := jsonDiff(path+"."+k, ea, eb); d != "" {
				return d
			}
		}
		return ""
	case []any:
		vb, ok := b.([]any)
		if !ok || len(va) != len(vb) {
			return fmt.Sprintf("%s: array of %d vs %v", path, len(va), b)
		}
		for i := range va {
			if d := jsonDiff(fmt.Sprintf("%s[%d]", path, i), va[i], vb[i]); d != "" {
				return d
			}
		}
		return ""
	case json.Number:
		vb, ok := b.(json.Number)
		if !ok {
			return fmt.Sprintf("%s: number %s vs %v", path, va, b)
		}
		ra, okA := new(big.Rat).SetString(va.String())
		rb, okB := new(big.Rat).SetString(vb.String())
		if !okA || !okB || ra.Cmp(rb) != 0 {
			return fmt.Sprintf("%s: %s vs %s", path, va, vb)
		}
		return ""
	default:
		if a != b {
			return fmt.Sprintf("%s: %v vs %v", path, a, b)
		}
		return ""
	}
}
