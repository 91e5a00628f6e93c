package mask

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/fieldseal/fieldseal/internal/strictyaml"
	"github.com/fieldseal/fieldseal/lineerr"
)

func mustCompile(t testing.TB, s Spec) *Mask {
	t.Helper()
	m, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFormats(t *testing.T) {
	custom := Spec{Format: FormatCustom, KeepFirst: 1, KeepLast: 3, Char: "#"}
	tests := []struct {
		name string
		spec Spec
		in   string
		want string
	}{
		{"an email keeps the first letter and the domain", Spec{Format: FormatEmail}, "jane.doe@example.com", "j***@example.com"},
		{"an email hides the local part's length", Spec{Format: FormatEmail}, "jo@example.com", "j***@example.com"},
		{"a one-letter local part is hidden entirely", Spec{Format: FormatEmail}, "j@example.com", "***@example.com"},
		{"an email splits at the last @", Spec{Format: FormatEmail}, `"a@b"@example.com`, `"***@example.com`},
		{"a non-address email reveals nothing", Spec{Format: FormatEmail}, "not an address", "***"},
		{"a multibyte email keeps a whole first rune", Spec{Format: FormatEmail}, "홍길동@example.kr", "홍***@example.kr"},
		{"a phone keeps the last four digits and separators", Spec{Format: FormatPhone}, "+1 (555) 010-5678", "+* (***) ***-5678"},
		{"a Korean mobile number", Spec{Format: FormatPhone}, "010-1234-5678", "***-****-5678"},
		{"a short phone keeps at most half its digits", Spec{Format: FormatPhone}, "12345", "***45"},
		{"letters in a phone are hidden", Spec{Format: FormatPhone}, "555-0100 ext 12", "***-**00 *** 12"},
		{"a card keeps the last four digits", Spec{Format: FormatCard}, "4111 1111 1111 1111", "**** **** **** 1111"},
		{"a card without separators", Spec{Format: FormatCard}, "4111111111111111", "************1111"},
		{"a name keeps each word's initial", Spec{Format: FormatName}, "Jane Mary Doe", "J*** M*** D***"},
		{"a hyphenated name is two words", Spec{Format: FormatName}, "Jean-Luc  Picard", "J*** L*** P***"},
		{"a Korean name keeps its first syllable", Spec{Format: FormatName}, "홍길동", "홍***"},
		{"an empty name reveals nothing", Spec{Format: FormatName}, "   ", "***"},
		{"a resident number keeps birth date and gender digit", Spec{Format: FormatKRRRN}, "900101-1234567", "900101-1******"},
		{"a resident number without hyphen is normalised", Spec{Format: FormatKRRRN}, "9001012234567", "900101-2******"},
		{"a malformed resident number reveals nothing", Spec{Format: FormatKRRRN}, "900101-123", "***"},
		{"custom keeps first and last with its char", custom, "abcdefgh", "a####fgh"},
		{"custom counts runes, not bytes", custom, "가나다라마바", "가##라마바"},
		{"custom on a value too short hides everything", custom, "abcd", "####"},
		{"full reveals nothing", Spec{Format: FormatFull}, "anything at all", "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustCompile(t, tt.spec).String([]byte(tt.in), true)
			if got != Prefix+tt.want {
				t.Fatalf("mask(%q) = %q, want %q", tt.in, got, Prefix+tt.want)
			}
			if !IsMasked([]byte(got)) {
				t.Fatalf("%q is not recognised as masked", got)
			}
		})
	}
}

func TestNonStringValuesAreHiddenWithFixedLength(t *testing.T) {
	for _, f := range Formats() {
		s := Spec{Format: f}
		m := mustCompile(t, s)
		for _, raw := range []string{`12345678`, `true`, `null`, `{"a":"secret"}`, `["x","y"]`} {
			if got := m.String([]byte(raw), false); got != Prefix+hidden {
				t.Fatalf("%s mask of %s = %q", f, raw, got)
			}
		}
	}
}

func TestIsMaskedJSON(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want bool
	}{
		{"a masked string is recognised", `"fsm:j***@example.com"`, true},
		{"an escaped prefix is recognised", `"\u0066sm:j***@example.com"`, true},
		{"plain data is not masked", `"jane@example.com"`, false},
		{"a sealed value is not masked", `"fs1:AAAA"`, false},
		{"a number is not masked", `42`, false},
		{"a broken string is not masked", `"fsm:\x"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsMaskedJSON([]byte(tt.raw)); got != tt.want {
				t.Fatalf("IsMaskedJSON(%s) = %v", tt.raw, got)
			}
		})
	}
}

func TestAppendJSONQuotes(t *testing.T) {
	m := mustCompile(t, Spec{Format: FormatCustom, KeepFirst: 2, KeepLast: 0})
	got := string(m.AppendJSON([]byte("x:"), []byte("\"\\secret"), true))
	if got != `x:"fsm:\"\\******"` {
		t.Fatalf("AppendJSON = %s", got)
	}
}

func TestSpecs(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // error substring, "" = valid
	}{
		{"a format name is a spec", `email`, ""},
		{"a mapping is a spec", `{format: custom, keep_first: 1, keep_last: 4, char: "•"}`, ""},
		{"an unknown format is refused", `{format: rot13}`, `unknown format "rot13"`},
		{"a missing format is refused", `{keep_first: 1}`, "format is required"},
		{"keep counts belong to custom only", `{format: email, keep_first: 2}`, "custom only"},
		{"negative keep is refused", `{format: custom, keep_first: -1}`, "0 or more"},
		{"a letter cannot be the mask char", `{format: custom, char: "x"}`, `char "x"`},
		{"two runes cannot be the mask char", `{format: custom, char: "**"}`, `char "**"`},
		{"unknown keys are refused", `{format: custom, keep_middle: 1}`, `unknown key "keep_middle"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc struct {
				Mask Spec `yaml:"mask"`
			}
			_, err := strictyaml.Decode([]byte("\nmask: "+tt.yaml), "m.yaml", &doc)
			decoded := err == nil
			if decoded {
				_, err = Compile(doc.Mask)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			var me *lineerr.Error
			if !errors.As(err, &me) || me.Line != 2 || (decoded && !errors.Is(err, ErrSpec)) {
				t.Fatalf("err %v is not a *lineerr.Error at line 2 (matching ErrSpec once decoded)", err)
			}
		})
	}
	t.Run("a set reports every bad class and defaults to full", func(t *testing.T) {
		_, err := NewSet(map[string]Spec{"a": {Format: "x"}, "b": {Format: "y"}, "c": {Format: FormatEmail}})
		if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), `class "a"`) || !strings.Contains(err.Error(), `class "b"`) {
			t.Fatalf("err = %v", err)
		}
		s, err := NewSet(map[string]Spec{"email": {Format: FormatEmail}})
		if err != nil {
			t.Fatal(err)
		}
		if s.For("phone") != Full || s.Mask("email", []byte("ab@c.d"), true) != "fsm:a***@c.d" {
			t.Fatal("set lookup")
		}
	})
}

// revealedAllowance is the most characters of the input a format may show.
func checkReveal(t testing.TB, spec Spec, in, out string) {
	t.Helper()
	if !strings.HasPrefix(out, Prefix) {
		t.Fatalf("%s(%q) = %q lacks the prefix", spec.Format, in, out)
	}
	body := strings.TrimPrefix(out, Prefix)
	count := func(s string, f func(rune) bool) int {
		n := 0
		for _, r := range s {
			if f(r) {
				n++
			}
		}
		return n
	}
	digit := func(r rune) bool { return r >= '0' && r <= '9' }
	switch spec.Format {
	case FormatFull:
		if body != hidden {
			t.Fatalf("full(%q) = %q", in, out)
		}
	case FormatPhone, FormatCard:
		shown, total := count(body, digit), count(in, digit)
		if shown > 4 || shown > total/2 {
			t.Fatalf("%s(%q) = %q shows %d of %d digits", spec.Format, in, out, shown, total)
		}
		if utf8.RuneCountInString(body) != utf8.RuneCountInString(in) {
			t.Fatalf("%s(%q) = %q changes the layout", spec.Format, in, out)
		}
		if d := digitsOf(in); !strings.HasSuffix(d, digitsOf(body)) {
			t.Fatalf("%s(%q) = %q shows digits that are not the last ones", spec.Format, in, out)
		}
	case FormatKRRRN:
		if body != hidden && (len(body) != 14 || body[:6] != digitsOf(in)[:6] || body[8:] != "******") {
			t.Fatalf("kr_rrn(%q) = %q", in, out)
		}
	case FormatEmail:
		at := strings.LastIndexByte(in, '@')
		if body == hidden {
			return
		}
		domain := in[at+1:]
		local := strings.TrimSuffix(body, hidden+"@"+domain)
		if local == body || utf8.RuneCountInString(local) > 1 || !strings.HasPrefix(in, local) {
			t.Fatalf("email(%q) = %q", in, out)
		}
	case FormatName:
		words := len(strings.FieldsFunc(in, func(r rune) bool { return r == '-' || unicode.IsSpace(r) }))
		if got := strings.Count(body, hidden); body != hidden && got != words {
			t.Fatalf("name(%q) = %q: %d hidden runs for %d words", in, out, got, words)
		}
		if shown := utf8.RuneCountInString(strings.ReplaceAll(strings.ReplaceAll(body, hidden, ""), " ", "")); shown > words {
			t.Fatalf("name(%q) = %q shows %d characters for %d words", in, out, shown, words)
		}
	case FormatCustom:
		n := utf8.RuneCountInString(in)
		if n == 0 {
			if body != hidden {
				t.Fatalf("custom(\"\") = %q", out)
			}
			return
		}
		if utf8.RuneCountInString(body) != n {
			t.Fatalf("custom(%q) = %q changes the length", in, out)
		}
		kept := 0
		c, _ := utf8.DecodeRuneInString(spec.Char)
		if spec.Char == "" {
			c = '*'
		}
		for _, r := range body {
			if r != c {
				kept++
			}
		}
		if kept > spec.KeepFirst+spec.KeepLast || (kept > 0 && kept >= n) {
			t.Fatalf("custom(%q) = %q shows %d characters", in, out, kept)
		}
	}
}

func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var propertySpecs = []Spec{
	{Format: FormatEmail}, {Format: FormatPhone}, {Format: FormatName}, {Format: FormatCard},
	{Format: FormatKRRRN}, {Format: FormatFull},
	{Format: FormatCustom, KeepFirst: 1, KeepLast: 4, Char: "*"},
	{Format: FormatCustom, KeepFirst: 0, KeepLast: 2, Char: "•"},
}

// alphabet mixes what the formats treat specially with multibyte text.
var alphabet = []rune("abcXYZ0123456789@.- ()+/_가나다é\u00a0\t")

func TestMaskNeverRevealsMoreThanItsFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		n := rng.IntN(24)
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = alphabet[rng.IntN(len(alphabet))]
		}
		in := string(rs)
		if rng.IntN(4) == 0 { // shape some inputs like the real thing
			in = []string{"jane.doe@example.com", "010-1234-5678", "9001011234567", "4111 1111 1111 1111"}[rng.IntN(4)] + string(rs[:min(len(rs), rng.IntN(3))])
		}
		for _, s := range propertySpecs {
			checkReveal(t, s, in, mustCompile(t, s).String([]byte(in), true))
		}
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"jane@example.com", "010-1234-5678", "900101-1234567", "Jane Doe", "\xff\xfe@x", ""} {
		f.Add(s)
	}
	masks := make([]*Mask, len(propertySpecs))
	for i, s := range propertySpecs {
		masks[i] = mustCompile(f, s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for i, m := range masks {
			out := m.String([]byte(in), true)
			if !utf8.ValidString(out) {
				t.Fatalf("%s(%q) = %q is not valid UTF-8", m.Format(), in, out)
			}
			if utf8.ValidString(in) {
				checkReveal(t, propertySpecs[i], in, out)
			}
		}
	})
}

func BenchmarkMaskEmail(b *testing.B) {
	m := mustCompile(b, Spec{Format: FormatEmail})
	v := []byte("jane.doe@example.com")
	b.ReportAllocs()
	for b.Loop() {
		_ = m.String(v, true)
	}
}
