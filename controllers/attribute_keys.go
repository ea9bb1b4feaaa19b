package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
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
//
// Eight hex digits are 32 bits, which a sender can make collide on purpose
// (and two names too long to keep share their truncated base). Whatever
// the input, distinctNames then gives every key its own name, decided by
// the key set alone, so no two attributes ever share a key and the same
// spec always renders the same ConfigMap.
func attributeKeys(keys []string) map[string]string {
	return attributeKeysWith(keys, hashSuffix)
}

// attributeKeysWith is attributeKeys with the suffix function as a
// parameter, so that tests can force collisions of any shape.
func attributeKeysWith(keys []string, suffix func(key string) string) map[string]string {
	sorted := slices.Sorted(slices.Values(keys))
	sorted = slices.Compact(sorted)
	byBase := make(map[string][]string, len(sorted))
	for _, k := range sorted {
		base := upperSnake(k)
		byBase[base] = append(byBase[base], k)
	}
	candidate := make(map[string]string, len(sorted))
	for base, group := range byBase {
		winner := -1 // no key keeps an empty or too long name
		if base != "" && len(base) <= maxAttrNameLen {
			winner = max(0, slices.Index(group, lowerCamel(base)))
		}
		for i, k := range group {
			if i == winner {
				candidate[k] = attrKeyPrefix + base
				continue
			}
			candidate[k] = attrKeyPrefix + hashedName(base, suffix(k))
		}
	}
	return distinctNames(sorted, candidate)
}

// distinctNames makes the candidate names of keys (sorted, no duplicates)
// unique. A name only one key wants stays that key's; of the keys that
// want the same name, the first in byte order keeps it and each next one
// gets it followed by _2, _3, ... (the first such name nobody has), so the
// result depends on the key set only. Without a collision it changes
// nothing.
func distinctNames(sorted []string, candidate map[string]string) map[string]string {
	wanted := make(map[string]int, len(candidate))
	for _, name := range candidate {
		wanted[name]++
	}
	taken := make(map[string]bool, len(candidate))
	for name := range wanted {
		taken[name] = true
	}
	out := make(map[string]string, len(candidate))
	first := make(map[string]bool)
	for _, k := range sorted {
		name := candidate[k]
		if wanted[name] == 1 || !first[name] {
			first[name] = true
			out[k] = name
			continue
		}
		for n := 2; ; n++ {
			alt := name + "_" + strconv.Itoa(n)
			if !taken[alt] {
				taken[alt] = true
				out[k] = alt
				break
			}
		}
	}
	return out
}

// hashSuffix is the suffix that separates a key from its twins: the first
// 8 hex digits of the SHA-256 of the key.
func hashSuffix(key string) string {
	sum := sha256.Sum256([]byte(key))
	return strings.ToUpper(hex.EncodeToString(sum[:4]))
}

// hashedName is the name of an attribute that cannot have the plain one.
func hashedName(base, suffix string) string {
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
