package mask

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fieldseal/fieldseal/lineerr"
)

// Prefix starts every masked value.
const Prefix = "fsm:"

// hidden is the fixed text standing for a hidden run of unknown length.
const hidden = "***"

// Format names.
const (
	FormatEmail  = "email"
	FormatPhone  = "phone"
	FormatName   = "name"
	FormatCard   = "card"
	FormatKRRRN  = "kr_rrn"
	FormatCustom = "custom"
	FormatFull   = "full"
)

// Formats lists the format names a Spec may use.
func Formats() []string {
	return []string{FormatEmail, FormatPhone, FormatName, FormatCard, FormatKRRRN, FormatCustom, FormatFull}
}

// ErrSpec is the category of every invalid Spec: errors.Is(err, ErrSpec).
var ErrSpec = errors.New("invalid mask")

// Spec is a class's mask as configured. In YAML it is either a format name
// (`mask: email`) or a mapping (`mask: {format: custom, keep_first: 1,
// keep_last: 4, char: "#"}`); the config package decodes it by its yaml
// tags. Line is the YAML line, for error messages.
type Spec struct {
	Format    string `yaml:"format"`
	KeepFirst int    `yaml:"keep_first"`
	KeepLast  int    `yaml:"keep_last"`
	Char      string `yaml:"char"`
	Line      int
}

// UnmarshalText reads the scalar shorthand, a format name.
func (s *Spec) UnmarshalText(text []byte) error {
	s.Format = string(text)
	return nil
}

// Mask is a compiled Spec. Its zero value is not usable; use Compile.
type Mask struct {
	format    string
	keepFirst int
	keepLast  int
	char      rune
}

// Full is the mask used where a class has none configured.
var Full = &Mask{format: FormatFull}

// Compile checks s. An error is a *lineerr.Error at the spec's line (0
// when it has none) that matches ErrSpec.
func Compile(s Spec) (*Mask, error) {
	bad := func(format string, args ...any) error {
		return &lineerr.Error{Line: s.Line, Msg: "mask: " + fmt.Sprintf(format, args...), Err: ErrSpec}
	}
	m := &Mask{format: s.Format, char: '*'}
	switch s.Format {
	case FormatEmail, FormatPhone, FormatName, FormatCard, FormatKRRRN, FormatFull:
		if s.KeepFirst != 0 || s.KeepLast != 0 || s.Char != "" {
			return nil, bad("keep_first, keep_last and char apply to format custom only")
		}
	case FormatCustom:
		if s.KeepFirst < 0 || s.KeepLast < 0 || s.KeepFirst+s.KeepLast > 64 {
			return nil, bad("keep_first and keep_last must be 0 or more, together at most 64")
		}
		m.keepFirst, m.keepLast = s.KeepFirst, s.KeepLast
		if s.Char != "" {
			r, size := utf8.DecodeRuneInString(s.Char)
			if size != len(s.Char) || r == utf8.RuneError || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) || r == '"' || r == '\\' {
				return nil, bad("char %q must be one symbol (not a letter, digit, space, quote or backslash)", s.Char)
			}
			m.char = r
		}
	case "":
		return nil, bad("format is required (one of %s)", strings.Join(Formats(), ", "))
	default:
		return nil, bad("unknown format %q (one of %s)", s.Format, strings.Join(Formats(), ", "))
	}
	return m, nil
}

// Format returns the mask's format name.
func (m *Mask) Format() string { return m.format }

// String masks plaintext and returns the marked masked text (the content of
// a JSON string, unquoted). isString says plaintext is a JSON string's
// decoded content; otherwise it is raw JSON of another type and only
// "fsm:***" comes out.
func (m *Mask) String(plaintext []byte, isString bool) string {
	if !isString {
		return Prefix + hidden
	}
	var b strings.Builder
	b.Grow(len(Prefix) + len(plaintext) + 8)
	b.WriteString(Prefix)
	v := string(plaintext)
	switch m.format {
	case FormatEmail:
		maskEmail(&b, v)
	case FormatPhone, FormatCard:
		maskDigits(&b, v, 4)
	case FormatName:
		maskName(&b, v)
	case FormatKRRRN:
		maskRRN(&b, v)
	case FormatCustom:
		maskCustom(&b, v, m.keepFirst, m.keepLast, m.char)
	default:
		b.WriteString(hidden)
	}
	return b.String()
}

// AppendJSON appends the masked value as a quoted JSON string to dst.
func (m *Mask) AppendJSON(dst, plaintext []byte, isString bool) []byte {
	q, err := json.Marshal(m.String(plaintext, isString))
	if err != nil { // a Go string always marshals; keep the invariant visible
		return append(dst, `"`+Prefix+hidden+`"`...)
	}
	return append(dst, q...)
}

// IsMasked reports whether v, the decoded content of a JSON string, is a
// masked value.
func IsMasked(v []byte) bool { return bytes.HasPrefix(v, []byte(Prefix)) }

// IsMaskedJSON reports whether raw, a JSON value as it appears in a body, is
// a string holding a masked value, however its characters are escaped
// ("\u0066sm:..." counts).
func IsMaskedJSON(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return IsMasked(raw[1 : len(raw)-1])
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	return strings.HasPrefix(s, Prefix)
}

// maskEmail keeps the first character of the local part (when it has two or
// more) and the domain after the last '@'.
func maskEmail(b *strings.Builder, v string) {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 || at == len(v)-1 {
		b.WriteString(hidden) // not an address: reveal nothing
		return
	}
	local, domain := v[:at], v[at+1:]
	if utf8.RuneCountInString(local) >= 2 {
		r, _ := utf8.DecodeRuneInString(local)
		b.WriteRune(r)
	}
	b.WriteString(hidden)
	b.WriteByte('@')
	b.WriteString(strings.ToValidUTF8(domain, "\uFFFD"))
}

// separators are kept in phone and card numbers so their layout survives.
const separators = " -().+/"

// maskDigits keeps the last keep digits, but never more than half of the
// digits; other digits and any letters become '*', separators stay.
func maskDigits(b *strings.Builder, v string, keep int) {
	digits := 0
	for _, r := range v {
		if isDigit(r) {
			digits++
		}
	}
	keep = min(keep, digits/2)
	seen := 0
	for _, r := range v {
		switch {
		case isDigit(r):
			seen++
			if seen > digits-keep {
				b.WriteRune(r)
			} else {
				b.WriteByte('*')
			}
		case strings.ContainsRune(separators, r):
			b.WriteRune(r)
		default:
			b.WriteByte('*')
		}
	}
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// maskName keeps the first character of each word (words split on spaces
// and hyphens) followed by "***".
func maskName(b *strings.Builder, v string) {
	inWord := false
	wrote := false
	for _, r := range v {
		if unicode.IsSpace(r) || r == '-' {
			if inWord {
				b.WriteString(hidden)
			}
			inWord = false
			if wrote {
				b.WriteRune(' ')
				wrote = false
			}
			continue
		}
		if !inWord {
			b.WriteRune(r)
			inWord, wrote = true, true
		}
	}
	if inWord {
		b.WriteString(hidden)
	}
	if b.Len() == len(Prefix) {
		b.WriteString(hidden)
	}
}

// maskRRN shows a Korean resident registration number (YYMMDD-GNNNNNN, the
// hyphen optional on input) as its birth date and gender digit; anything
// else is hidden entirely.
func maskRRN(b *strings.Builder, v string) {
	d := make([]byte, 0, 13)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			d = append(d, c)
		case c == '-' && len(d) == 6:
		default:
			b.WriteString(hidden)
			return
		}
	}
	if len(d) != 13 {
		b.WriteString(hidden)
		return
	}
	b.Write(d[:6])
	b.WriteByte('-')
	b.WriteByte(d[6])
	b.WriteString("******")
}

// maskCustom keeps the first keepFirst and last keepLast runes and writes c
// for every other rune. When that would hide nothing, everything is hidden.
func maskCustom(b *strings.Builder, v string, keepFirst, keepLast int, c rune) {
	n := utf8.RuneCountInString(v)
	if keepFirst+keepLast >= n {
		keepFirst, keepLast = 0, 0
	}
	i := 0
	for _, r := range v {
		if i < keepFirst || i >= n-keepLast {
			b.WriteRune(r)
		} else {
			b.WriteRune(c)
		}
		i++
	}
	if n == 0 {
		b.WriteString(hidden)
	}
}
