// Package text holds the one helper the manager's packages share for
// putting outside input into a message or a log line.
package text

import "unicode/utf8"

// Truncate returns s if it is at most max bytes long, else its longest
// prefix of at most max bytes that ends on a whole UTF-8 character,
// followed by "...": a message never carries half a character.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
