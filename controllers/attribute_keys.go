package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// maxAttrNameLen bounds the part of an attribute's ConfigMap key derived
// from its name, so that every key stays under the API server's 253
// characters.
const maxAttrNameLen = 200

// attributeKeys names the ConfigMap key of each attribute:
// EVENT_ATTR_<UPPER_SNAKE of the attribute's camelCase key>, e.g.
// saleEnabled -> EVENT_ATTR_SALE_ENABLED, videoURL -> EVENT_ATTR_VIDEO_URL.
//
// Two keys can map to the same name (saleEnabled and sale_enabled). Then the
// one written the way Ingresse writes keys (camelCase, saleEnabled) keeps
// the plain name, or if none is, the first in byte order; each other gets
// the plain name followed by "__" and the first 8 hex digits of the SHA-256
// of its own key. A plain name never contains "__", so the two kinds cannot
// collide, and an attribute keeps its name as long as it and a camelCase
// twin exist, whatever attributes come and go. A key with no letter or
// digit, or one too long, gets a hashed name the same way.
func attributeKeys(keys []string) map[string]string {
	byBase := make(map[string][]string, len(keys))
	for _, k := range slices.Sorted(slices.Values(keys)) {
		base := upperSnake(k)
		byBase[base] = append(byBase[base], k)
	}
	out := make(map[string]string, len(keys))
	for base, group := range byBase {
		winner := -1 // no key keeps an empty or too long name
		if base != "" && len(base) <= maxAttrNameLen {
			winner = max(0, slices.Index(group, lowerCamel(base)))
		}
		for i, k := range group {
			if i == winner {
				out[k] = attrKeyPrefix + base
				continue
			}
			out[k] = attrKeyPrefix + hashedName(base, k)
		}
	}
	return out
}

// hashedName is the name of an attribute that cannot have the plain one.
func hashedName(base, key string) string {
	sum := sha256.Sum256([]byte(key))
	suffix := strings.ToUpper(hex.EncodeToString(sum[:4]))
	if len(base) > maxAttrNameLen {
		base = strings.TrimRight(base[:maxAttrNameLen], "_")
	}
	if base == "" {
		return "_" + suffix
	}
	return base + "__" + suffix
}

// upperSnake turns a camelCase (or snake_case, or kebab-case) key into
// UPPER_SNAKE_CASE made of A-Z, 0-9 and single underscores, never starting
// or ending with one. A word starts at an upper-case letter after a
// lower-case letter or digit, and at the last capital of an acronym
// followed by a lower-case letter (HTMLParser -> HTML_PARSER). Anything but
// an ASCII letter or digit separates words.
func upperSnake(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 4)
	separate := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isASCIILetter(c) && !isASCIIDigit(c) {
			separate = true
			continue
		}
		if b.Len() > 0 && (separate || wordStart(s, i)) {
			b.WriteByte('_')
		}
		separate = false
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// wordStart reports whether the upper-case letter at s[i] starts a word.
func wordStart(s string, i int) bool {
	if i == 0 || !isUpper(s[i]) {
		return false
	}
	prev := s[i-1]
	if isLower(prev) || isASCIIDigit(prev) {
		return true
	}
	return isUpper(prev) && i+1 < len(s) && isLower(s[i+1])
}

// lowerCamel is the camelCase key that upperSnake maps to name: the way
// Ingresse writes its attribute keys (SALE_ENABLED -> saleEnabled).
func lowerCamel(name string) string {
	var b strings.Builder
	for i, word := range strings.Split(name, "_") {
		word = strings.ToLower(word)
		if i > 0 && word != "" {
			word = strings.ToUpper(word[:1]) + word[1:]
		}
		b.WriteString(word)
	}
	return b.String()
}

func isUpper(c byte) bool       { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool       { return 'a' <= c && c <= 'z' }
func isASCIILetter(c byte) bool { return isUpper(c) || isLower(c) }
func isASCIIDigit(c byte) bool  { return '0' <= c && c <= '9' }
