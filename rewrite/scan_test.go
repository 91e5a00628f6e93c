package rewrite

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

func TestScanStringFindsTheClosingQuote(t *testing.T) {
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
		{"short multi-byte UTF-8", `"é"`},
		{"multi-byte UTF-8 split across words", `"abcdefg` + "\u4e16" + `"`},
		{"multi-byte UTF-8 after an escape", `"\n` + "\U0001F600" + `"`},
		{"a unicode escape", `"\u0022\u005c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.s + `,"next"`)
			if got, _ := scanString(doc, 0); got != len(tt.s) {
				t.Errorf("scanString(%s) = %d, want %d", tt.s, got, len(tt.s))
			}
		})
	}
}

func TestScanStringRefusesWhatIsNotAString(t *testing.T) {
	tests := []struct{ name, s string }{
		{"no closing quote", `"abc`},
		{"no closing quote after eight bytes", `"abcdefghijkl`},
		{"a backslash at the end", `"abc\`},
		{"an unknown escape", `"ab\x"`},
		{"a short unicode escape", `"\u12"`},
		{"a unicode escape that is not hex", `"\u12g4"`},
		{"a newline in the first word", "\"ab\ncd\""},
		{"a control character after eight bytes", "\"abcdefghij\x01\""},
		{"a tab", "\"a\tb\""},
		// RFC 8259 section 8.1: a lenient decoder reads an overlong form as
		// the ASCII letter it encodes ("emai\xC1\xAC" as "email").
		{"an overlong two-byte form in a short string", "\"emai\xC1\xAC\""},
		{"an overlong three-byte form after eight bytes", "\"abcdefghij\xE0\x81\xA5mail\""},
		{"an encoded surrogate", "\"\xED\xA0\x80\""},
		{"a lone continuation byte after an escape", "\"a\\n\x80\""},
		{"a truncated sequence before the quote", "\"abcdefgh\xE4\xB8\""},
		{"an invalid byte at the end of a long string", "\"" + strings.Repeat("x", 20) + "\xFF\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := scanString([]byte(tt.s), 0); got != -1 {
				t.Errorf("scanString(%q) = %d, want -1", tt.s, got)
			}
		})
	}
}

// TestApplyValidatesAsGjson holds Apply's one pass to the validator it
// replaced: whatever the plan, a document is refused as invalid exactly when
// gjson.ValidBytes refuses it or it is not UTF-8 (which gjson does not check,
// and RFC 8259 section 8.1 requires).
func TestApplyValidatesAsGjson(t *testing.T) {
	docs := []string{
		``, ` `, `{}`, `[]`, ` {} `, "\t[\r\n]\n", `{}x`, `{} {}`, `{`, `}`, `[`, `[1,]`, `[,1]`, `{,}`,
		`{"a":1,}`, `{"a" 1}`, `{"a":}`, `{a:1}`, `{"a":1 "b":2}`, `{"a":1}}`, `[1 2]`,
		`1`, `-`, `-0`, `-01`, `01`, `0.`, `0.5`, `.5`, `1e`, `1e+`, `1E-7`, `1e5.0`, `1.5e+10`, `-x`,
		`true`, `tru`, `truex`, `false`, `fals`, `null`, `nul`, `nulll`, `[true,false,null]`,
		`"a"`, `"a`, `"\u00e9"`, `"\u00g9"`, `"\x"`, `"\/"`, "\"a\x01\"", "\"\x7f\"", "\"\xff\xfe\"", "{\"emai\xc1\xac\":1}", "[\"\u00e9\"]",
		`{"email":"fs1:abc"}`, `{"email":{"a":[1,{"b":"c"}]}}`, `{"email":[1,}`, `{"email":"a",}`,
		`{"address":{"street":"x"},"list":[{"email":1},{"email":2}]}`, `{"address":"x"`, `{"list":[{"email":1},]}`,
		`{"address":[1,2,3}`, `{"a":{"b":{"c":{"d":[[[1]]]}}}}`, `{"a":"` + strings.Repeat("x", 100) + `\"`,
	}
	specs := []Spec{
		{},
		{Paths: []string{"email", "address.street", "list.#.email"}},
		{Paths: []string{"email", "address.street", "list.#.email"}, StrictShape: true},
		{Members: []string{"email", "a"}},
		{Prefix: "fs1:"},
		{Paths: []string{"a.*.c", "address"}, Members: []string{"email"}, Prefix: "fs1:"},
	}
	for _, spec := range specs {
		p, err := CompileSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range docs {
			_, err := p.Apply(nil, []byte(doc), sealMark)
			valid := gjson.ValidBytes([]byte(doc)) && utf8.ValidString(doc)
			if valid == errors.Is(err, ErrInvalidJSON) {
				t.Errorf("spec %+v, document %q: valid %v, Apply error %v", spec, doc, valid, err)
			}
		}
	}
}

// TestFoldKeyAgreesWithEqualFold: two keys fold to the same string exactly
// when strings.EqualFold says they are equal, for every rune pair that
// case folding relates (and some it does not), and also when both are
// among i, I, U+0130 and U+0131, which Java's equalsIgnoreCase equates.
func TestFoldKeyAgreesWithEqualFold(t *testing.T) {
	javaI := func(r rune) bool { return r == 'i' || r == 'I' || r == '\u0130' || r == '\u0131' }
	runes := []rune{'a', 'A', 'k', 'K', '\u212a', 's', 'S', '\u017f', 'i', 'I', '\u0130', '\u0131',
		'\u00b5', '\u039c', '\u03bc', '\u00c5', '\u00e5', '\u212b', '\u01c4', '\u01c5', '\u01c6', '*', '?', '\\', '_', '\ufffd'}
	for _, a := range runes {
		for _, b := range runes {
			x, y := string(a), string(b)
			if got, want := foldKey(x) == foldKey(y), strings.EqualFold(x, y) || (javaI(a) && javaI(b)); got != want {
				t.Errorf("foldKey(%q) == foldKey(%q) is %v, strings.EqualFold says %v", x, y, got, want)
			}
		}
	}
	if got := foldKey("ssn_home"); got != "ssn_home" {
		t.Errorf("an ASCII key without upper case folds to %q, want itself", got)
	}
}

// TestWildcardPathsFoldCase: a wildcard or plain path component matches
// keys as encoding/json binds them to the field it names (and Java's
// equalsIgnoreCase, for the dotted and dotless I), whatever the case of the
// pattern or the key; CaseSensitive compares them exactly.
func TestWildcardPathsFoldCase(t *testing.T) {
	tests := []struct {
		name, pattern, key  string
		caseSensitive, want bool
	}{
		{"an upper-case pattern matches a lower-case key", "SSN_*", "ssn_home", false, true},
		{"a lower-case pattern matches an upper-case key", "ssn_*", "SSN_HOME", false, true},
		{"the long s matches s", "ssn_*", "\u017f\u017fn_home", false, true},
		{"the Kelvin sign matches k", "k?y", "\u212aey", false, true},
		{"a question mark matches one folded rune", "?sn", "\u017fsn", false, true},
		{"a different key does not match", "ssn_*", "sn_home", false, false},
		{"case-sensitive plans compare exactly", "ssn_*", "SSN_HOME", true, false},
		{"case-sensitive plans do not fold the long s", "ssn_*", "\u017f\u017fn_home", true, false},
		{"a plain path key matches the dotless i", "tin", "t\u0131n", false, true},
		{"a plain path key matches the dotted capital I", "tin", "T\u0130N", false, true},
		{"a plain path key in upper case matches the dotless i", "TIN", "t\u0131n", false, true},
		{"a plain path key folds like encoding/json", "ssn", "\u017fsn", false, true},
		{"a plain path key does not match another", "tin", "ton", false, false},
		{"case-sensitive plans compare plain keys exactly", "tin", "t\u0131n", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompileSpec(Spec{Paths: []string{tt.pattern}, CaseSensitive: tt.caseSensitive})
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Apply(nil, []byte(`{"`+tt.key+`":"v"}`), sealMark)
			if err != nil {
				t.Fatal(err)
			}
			if got := !strings.Contains(string(out), `"v"`); got != tt.want {
				t.Errorf("pattern %q, key %q: sealed %v, want %v (%s)", tt.pattern, tt.key, got, tt.want, out)
			}
		})
	}
}

func TestEqualFoldReadsTheDottedAndDotlessIBothWays(t *testing.T) {
	for _, c := range [][2]string{{"t\u0131n", "TIN"}, {"TIN", "t\u0131n"}, {"T\u0130N", "tin"}, {"\u017fsn", "SSN"}} {
		if !EqualFold(c[0], c[1]) {
			t.Errorf("EqualFold(%q, %q) = false", c[0], c[1])
		}
	}
	if EqualFold("t\u0131n", "ton") || EqualFold("\u010dn", "cn") {
		t.Error("EqualFold folds a letter it must not")
	}
}
