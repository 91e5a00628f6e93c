package rewrite

import (
	"strings"
	"testing"
)

func TestSkipStringFindsTheClosingQuote(t *testing.T) {
	tests := []struct{ name, s string }{
		{"an empty string", `""`},
		{"a short string", `"abc"`},
		{"exactly eight bytes of content", `"abcdefgh"`},
		{"a long string", `"` + strings.Repeat("x", 100) + `"`},
		{"an escaped quote in the first word", `"ab\"cd"`},
		{"an escaped quote across a word boundary", `"abcdefg\"hijklmno\"p"`},
		{"an escaped backslash before the closing quote", `"abcdefghijklmn\\"`},
		{"a backslash as the eighth byte", `"abcdefg\\x"`},
		{"many escapes in a row", `"\\\\\\\"\\\\\"x"`},
		{"multi-byte UTF-8", `"caf` + "\u00e9\u4e16\u754c" + `ééé"`},
		{"a unicode escape", `"\u0022\u005c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.s + `,"next"`)
			if got := skipString(doc, 0); got != len(tt.s) {
				t.Errorf("skipString(%s) = %d, want %d", tt.s, got, len(tt.s))
			}
		})
	}
}
