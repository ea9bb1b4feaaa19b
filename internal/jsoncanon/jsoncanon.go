// Package jsoncanon writes JSON documents in a canonical form: two
// documents that decode to the same value give the same bytes, so a digest
// of the canonical form names a value, whatever its sender's spacing and
// member order. It writes exactly what encoding/json's decode (UseNumber)
// and encode would, in one pass: the receiver digests every cached watch
// event and every delivery compared with a stored version, and the
// controller every event's ConfigMap, and on the installed topology the
// simpler encoding/json version cost the API server measurably more CPU per
// event (docs/benchmark.md, "What pays rent").
package jsoncanon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Options says how Append writes strings and numbers.
type Options struct {
	// EscapeHTML writes <, > and & in strings as \u003c, \u003e and
	// \u0026, as encoding/json.Marshal does.
	EscapeHTML bool
	// NormaliseNumbers writes a number the way the API server stores it:
	// an integer that fits int64 as that integer, any other number as the
	// shortest float64 encoding/json writes (100000.0 -> 100000, 1.50 ->
	// 1.5). Without it a number is written as sent.
	NormaliseNumbers bool
}

// maxCanonicalDepth is encoding/json's nesting limit.
const maxCanonicalDepth = 10000

var errSyntax = errors.New("invalid JSON")

// Append appends to dst the canonical form of the JSON
// document src: object members sorted by name (of two with the same name
// the last one kept), no insignificant white space, strings written as
// encoding/json writes them, numbers as o says. Two documents that decode
// to the same value have the same canonical form; the result is exactly
// what decoding src with encoding/json (UseNumber) and encoding it again
// gives, in one pass and without building the value.
//
// src must hold exactly one JSON value, surrounded by white space at most.
func Append(dst, src []byte, o Options) ([]byte, error) {
	c := canonicalizer{src: src, dst: dst, opts: o}
	c.skipSpace()
	if err := c.value(0); err != nil {
		return dst, err
	}
	c.skipSpace()
	if c.pos != len(src) {
		return dst, fmt.Errorf("%w: data after the top-level value at offset %d", errSyntax, c.pos)
	}
	return c.dst, nil
}

// canonicalizer reads src from pos and appends to dst. The members of the
// objects being written share one stack, and their reordering one buffer:
// an object is reordered only once all its members, nested objects
// included, are written.
type canonicalizer struct {
	src     []byte
	pos     int
	dst     []byte
	opts    Options
	members []member
	scratch []byte
}

// member is an object member written into dst[start:end] ("name":value),
// with its decoded name.
type member struct {
	name       []byte
	start, end int
}

func (c *canonicalizer) syntax(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, c.pos)
}

func (c *canonicalizer) skipSpace() {
	for c.pos < len(c.src) {
		switch c.src[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canonicalizer) value(depth int) error {
	if c.pos >= len(c.src) {
		return c.syntax("unexpected end")
	}
	switch b := c.src[c.pos]; {
	case b == '{':
		return c.object(depth + 1)
	case b == '[':
		return c.array(depth + 1)
	case b == '"':
		_, err := c.str()
		return err
	case b == '-' || ('0' <= b && b <= '9'):
		return c.number()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(c.src[c.pos:], []byte(lit)) {
				c.dst = append(c.dst, lit...)
				c.pos += len(lit)
				return nil
			}
		}
		return c.syntax("invalid character")
	}
}

func (c *canonicalizer) object(depth int) error {
	if depth > maxCanonicalDepth {
		return c.syntax("nested too deep")
	}
	c.pos++ // {
	objStart := len(c.dst)
	c.dst = append(c.dst, '{')
	base := len(c.members)
	defer func() { c.members = c.members[:base] }()
	c.skipSpace()
	if c.pos < len(c.src) && c.src[c.pos] == '}' {
		c.pos++
		c.dst = append(c.dst, '}')
		return nil
	}
	for {
		c.skipSpace()
		if c.pos >= len(c.src) || c.src[c.pos] != '"' {
			return c.syntax("expected a member name")
		}
		start := len(c.dst)
		name, err := c.str()
		if err != nil {
			return err
		}
		c.skipSpace()
		if c.pos >= len(c.src) || c.src[c.pos] != ':' {
			return c.syntax("expected ':'")
		}
		c.pos++
		c.dst = append(c.dst, ':')
		c.skipSpace()
		if err := c.value(depth); err != nil {
			return err
		}
		c.members = append(c.members, member{name: name, start: start, end: len(c.dst)})
		c.skipSpace()
		if c.pos >= len(c.src) {
			return c.syntax("unexpected end of object")
		}
		if c.src[c.pos] == '}' {
			c.pos++
			break
		}
		if c.src[c.pos] != ',' {
			return c.syntax("expected ',' or '}'")
		}
		c.pos++
		c.dst = append(c.dst, ',')
	}
	c.dst = append(c.dst, '}')
	c.reorder(objStart, c.members[base:])
	return nil
}

// reorder rewrites the object written at dst[objStart:] with its members
// sorted by name, keeping the last of equal names (as decoding into a map
// does).
func (c *canonicalizer) reorder(objStart int, ms []member) {
	sorted := true
	for i := 1; i < len(ms); i++ {
		if bytes.Compare(ms[i-1].name, ms[i].name) >= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	// Stable by position, without SortStableFunc's insertion sorts, which
	// cost an object of a thousand members a millisecond.
	slices.SortFunc(ms, func(a, b member) int {
		if n := bytes.Compare(a.name, b.name); n != 0 {
			return n
		}
		return a.start - b.start
	})
	c.scratch = append(c.scratch[:0], c.dst[objStart:]...)
	c.dst = append(c.dst[:objStart], '{')
	first := true
	for i, m := range ms {
		if i+1 < len(ms) && bytes.Equal(m.name, ms[i+1].name) {
			continue // a later member of the same name wins
		}
		if !first {
			c.dst = append(c.dst, ',')
		}
		first = false
		c.dst = append(c.dst, c.scratch[m.start-objStart:m.end-objStart]...)
	}
	c.dst = append(c.dst, '}')
}

func (c *canonicalizer) array(depth int) error {
	if depth > maxCanonicalDepth {
		return c.syntax("nested too deep")
	}
	c.pos++ // [
	c.dst = append(c.dst, '[')
	c.skipSpace()
	if c.pos < len(c.src) && c.src[c.pos] == ']' {
		c.pos++
		c.dst = append(c.dst, ']')
		return nil
	}
	for {
		c.skipSpace()
		if err := c.value(depth); err != nil {
			return err
		}
		c.skipSpace()
		if c.pos >= len(c.src) {
			return c.syntax("unexpected end of array")
		}
		if c.src[c.pos] == ']' {
			c.pos++
			c.dst = append(c.dst, ']')
			return nil
		}
		if c.src[c.pos] != ',' {
			return c.syntax("expected ',' or ']'")
		}
		c.pos++
		c.dst = append(c.dst, ',')
	}
}

// str writes the string at pos and returns its decoded text. A string
// encoding/json would write as it stands (the common case) is copied, one
// whose only difference is HTML's <, > and & is copied with those escaped;
// any other is decoded and encoded again by encoding/json.
func (c *canonicalizer) str() ([]byte, error) {
	start := c.pos
	c.pos++ // "
	plain, html := true, false
	for {
		if c.pos >= len(c.src) {
			return nil, c.syntax("unterminated string")
		}
		b := c.src[c.pos]
		switch {
		case b == '"':
			c.pos++
			switch {
			case plain && html:
				c.dst = appendHTMLEscaped(c.dst, c.src[start:c.pos])
			case plain:
				c.dst = append(c.dst, c.src[start:c.pos]...)
			default:
				return c.reencode(c.src[start:c.pos])
			}
			return c.src[start+1 : c.pos-1], nil
		case b == '\\':
			plain = false
			c.pos += 2 // the escape is checked by the decoder
		case b < 0x20:
			return nil, c.syntax("control character in string")
		case b == '<' || b == '>' || b == '&':
			html = html || c.opts.EscapeHTML
			c.pos++
		case b < utf8.RuneSelf:
			c.pos++
		default:
			r, size := utf8.DecodeRune(c.src[c.pos:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				plain = false
			}
			c.pos += size
		}
	}
}

// appendHTMLEscaped writes a quoted string that holds no escape, with <, >
// and & as encoding/json's HTML escaping writes them.
func appendHTMLEscaped(dst, quoted []byte) []byte {
	for _, b := range quoted {
		switch b {
		case '<':
			dst = append(dst, `\u003c`...)
		case '>':
			dst = append(dst, `\u003e`...)
		case '&':
			dst = append(dst, `\u0026`...)
		default:
			dst = append(dst, b)
		}
	}
	return dst
}

// reencode decodes a quoted string and writes it as encoding/json does.
func (c *canonicalizer) reencode(quoted []byte) ([]byte, error) {
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", errSyntax, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(c.opts.EscapeHTML)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	c.dst = append(c.dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
	return []byte(s), nil
}

// number writes the number at pos, checked against JSON's grammar.
func (c *canonicalizer) number() error {
	start := c.pos
	digits := func() int {
		n := 0
		for c.pos < len(c.src) && '0' <= c.src[c.pos] && c.src[c.pos] <= '9' {
			c.pos++
			n++
		}
		return n
	}
	if c.src[c.pos] == '-' {
		c.pos++
	}
	if c.pos < len(c.src) && c.src[c.pos] == '0' {
		c.pos++
	} else if digits() == 0 {
		return c.syntax("invalid number")
	}
	if c.pos < len(c.src) && c.src[c.pos] == '.' {
		c.pos++
		if digits() == 0 {
			return c.syntax("invalid number")
		}
	}
	if c.pos < len(c.src) && (c.src[c.pos] == 'e' || c.src[c.pos] == 'E') {
		c.pos++
		if c.pos < len(c.src) && (c.src[c.pos] == '+' || c.src[c.pos] == '-') {
			c.pos++
		}
		if digits() == 0 {
			return c.syntax("invalid number")
		}
	}
	text := c.src[start:c.pos]
	if !c.opts.NormaliseNumbers {
		c.dst = append(c.dst, text...)
		return nil
	}
	c.dst = appendNormalisedNumber(c.dst, text)
	return nil
}

// appendNormalisedNumber writes an integer that fits int64 as that
// integer, any other number as encoding/json writes a float64, and a
// number beyond float64 as it stands.
func appendNormalisedNumber(dst, text []byte) []byte {
	if !bytes.ContainsAny(text, ".eE") {
		if i, err := strconv.ParseInt(string(text), 10, 64); err == nil {
			return strconv.AppendInt(dst, i, 10)
		}
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return append(dst, text...)
	}
	// encoding/json's float64 encoding.
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 -> e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
