package rewrite

import (
	"encoding/json"
	"testing"
)

func TestAppendStringRoundTripsThroughJSON(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"plain text is copied", "ada@example.com", `"ada@example.com"`},
		{"quotes, backslashes and control characters are escaped", "a\"b\\c\nd\te\x01", `"a\"b\\c\nd\te\u0001"`},
		{"HTML characters are left alone", "<a&b>", `"<a&b>"`},
		{"line and paragraph separators are escaped", "a\u2028b\u2029", `"a\u2028b\u2029"`},
		{"invalid UTF-8 becomes U+FFFD", "a\xffb", `"a\ufffdb"`},
		{"multi-byte text is kept", "café 😀", `"café 😀"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendString([]byte("x"), []byte(tt.in))
			if string(got) != "x"+tt.want {
				t.Fatalf("AppendString = %s, want %s", got[1:], tt.want)
			}
			var back string
			if err := json.Unmarshal(got[1:], &back); err != nil {
				t.Fatalf("not a JSON string: %v", err)
			}
			if c := StringContent(got[1:]); string(c) != back {
				t.Errorf("StringContent = %q, encoding/json reads %q", c, back)
			}
		})
	}
}
