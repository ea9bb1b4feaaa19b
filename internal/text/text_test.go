package text

import (
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer string", 8, "a longer..."},
		// "São Paulo": ã is bytes 1 and 2; a cut at 2 would split it.
		{"São Paulo", 2, "S..."},
		{"São Paulo", 3, "Sã..."},
		{"São Paulo", 4, "São..."},
		{"😀😀", 5, "😀..."},
		{"😀", 2, "..."},
		{"", 0, ""},
	} {
		got := Truncate(tc.in, tc.max)
		if got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q is not valid UTF-8", tc.in, tc.max, got)
		}
	}
}
