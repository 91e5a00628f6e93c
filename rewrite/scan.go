package rewrite

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/match"
)

// This file is the one pass Apply makes over a document: it validates the
// JSON grammar (RFC 8259, as gjson.ValidBytes reads it, and strings must
// be valid UTF-8, which gjson does not check), bounds the nesting depth before it recurses any
// deeper, and collects the span of every value the plan matches, all while
// reading each byte once. gjson's validator followed by a walk read every
// byte twice, and a separate depth pre-scan a third time.
//
// Every function returns the index just past what it read, or -1 when the
// document is refused; w.err then says why (nil: not valid JSON). A refusal
// for another reason than validity (a shape, a pattern too complex) stops
// the walk too, and Apply then validates the whole document on its own, so
// that an invalid document is always reported as such, as before.

// walker descends the trie and the document together.
type walker struct {
	doc   string // the document, for key comparisons
	b     []byte // the same document, for scanning
	spans []span
	err   error // why the walk stopped; nil with -1: invalid JSON
	plan  *Plan
	depth int // containers open around the current value
	// prefix0 is the first byte of the plan's prefix: a string that starts
	// with another byte, and has no escape, cannot carry the prefix. It is
	// '"' (which starts no string's content) when the plan has no prefix.
	prefix0 byte
}

// keyI tells whether a member key holds the lead byte of U+0130 or U+0131
// (0: not looked yet, 1: no, 2: yes), looked once per key, not once per
// edge it is compared with (keyMatches).
type keyI int8

// tooDeep records ErrTooDeep and returns -1.
func (w *walker) tooDeep() int {
	w.err = ErrTooDeep
	return -1
}

// walk visits the value starting at or after doc[start] (white space
// first) and returns the index just past it. n is the trie state that
// reached the value, or nil when only the plan's members and prefix still
// apply.
func (w *walker) walk(n *node, start int) int {
	b := w.b
	start = skipSpace(b, start)
	if start >= len(b) {
		return -1
	}
	if n == nil {
		return w.plain(start, w.plan.scanAll)
	}
	if n.leaf >= 0 && len(n.edges) == 0 {
		// Replaced whole: nothing inside it matters, but it must be valid.
		end := w.skip(start)
		if end >= 0 {
			w.spans = append(w.spans, span{off: start, end: end, path: n.leaf})
		}
		return end
	}
	edges := len(n.edges) > 0
	if edges && w.plan.strict && !n.accepts(b[start]) {
		w.err = n.shapeError(w.plan.paths, b[start], start)
		return -1
	}
	var end int
	switch c := b[start]; {
	case c == '{' && edges:
		end = w.object(n, start)
	case c == '[' && edges:
		end = w.array(n, start)
	default:
		end = w.plain(start, w.plan.scanAll)
	}
	if end >= 0 && n.leaf >= 0 {
		w.spans = append(w.spans, span{off: start, end: end, path: n.leaf})
	}
	return end
}

// hasPrefix reports whether the string doc[start:end] starts with the
// plan's prefix once decoded. An application decodes escapes before it
// stores the value: "\u0066s1:..." is a sealed value too. Only an escape
// among the first bytes can change how the content starts.
func (w *walker) hasPrefix(start, end int, esc bool) bool {
	prefix := w.plan.prefix
	content := w.doc[start+1 : end-1]
	if esc {
		if k := strings.IndexByte(content, '\\'); k >= 0 && k < len(prefix) {
			content = gjson.Parse(w.doc[start:end]).Str
		}
	}
	return strings.HasPrefix(content, prefix)
}

// object visits the members of the object at doc[i] and returns the index
// just past it. n may be nil (see walk).
func (w *walker) object(n *node, i int) int {
	if w.depth++; w.depth > w.plan.depth {
		return w.tooDeep()
	}
	s := w.b
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		w.depth--
		return i + 1
	}
	members := &w.plan.members
	for {
		if i >= len(s) || s[i] != '"' {
			return -1
		}
		kEnd, esc := scanString(s, i)
		if kEnd < 0 {
			return -1
		}
		key := w.doc[i+1 : kEnd-1]
		if esc {
			key = gjson.Parse(w.doc[i:kEnd]).Str // rare: decode escapes to compare
		}
		var ki keyI
		i = skipSpace(s, kEnd)
		if i >= len(s) || s[i] != ':' {
			return -1
		}
		v := skipSpace(s, i+1) // value start
		if v >= len(s) {
			return -1
		}
		vEnd := -1 // value end, once known
		done := false
		// A member of the set is replaced whole, unless a path ends at the
		// same value (the path says more: its own class).
		if m := members.lookup(key); m >= 0 && !w.pathEndsAt(n, key, &ki) {
			if w.err != nil {
				return -1
			}
			vEnd = w.skip(v)
			if vEnd >= 0 {
				w.spans = append(w.spans, span{off: v, end: vEnd, path: len(w.plan.paths) + m})
			}
			done = true
		} else if w.err != nil {
			return -1
		} else if n != nil {
			for e := range n.edges {
				edge := &n.edges[e]
				if ok := w.keyMatches(edge, key, &ki); !ok {
					if w.err != nil {
						return -1
					}
					continue
				}
				// Two wildcards may both select one key: the value is
				// visited once for each.
				vEnd = w.walk(edge.next, v)
				if vEnd < 0 {
					return -1
				}
				done = true
			}
		}
		if !done {
			vEnd = w.plain(v, w.plan.scanAll)
		}
		if vEnd < 0 {
			return -1
		}
		i = skipSpace(s, vEnd)
		if i >= len(s) {
			return -1
		}
		switch s[i] {
		case '}':
			w.depth--
			return i + 1
		case ',':
			i = skipSpace(s, i+1)
		default:
			return -1
		}
	}
}

// keyMatches reports whether edge selects the object member key. A wildcard
// too complex to decide sets w.err and reports false.
func (w *walker) keyMatches(edge *edge, key string, ki *keyI) bool {
	switch edge.kind {
	case edgeKey:
		// Path components compare like members: an application that binds
		// "CONTACT" to contact (Go's encoding/json) must not get it unsealed.
		// Beyond strings.EqualFold, the dotted and dotless I fold onto i
		// as for members (foldKey): Java's equalsIgnoreCase binds "tın".
		if key == edge.arg || !w.plan.members.fold {
			return key == edge.arg
		}
		// U+0130 and U+0131 are the only runes beyond it.
		if strings.EqualFold(key, edge.arg) {
			return true
		}
		if !edge.foldsI {
			return false
		}
		if *ki == 0 {
			*ki = 1
			if hasTurkishI(key) {
				*ki = 2
			}
		}
		return *ki == 2 && foldKey(key) == edge.folded
	case edgeWild:
		// Under folding both sides are folded rune by rune the way
		// strings.EqualFold and encoding/json compare, not lowered:
		// strings.ToLower leaves U+017F LATIN SMALL LETTER LONG S, which
		// encoding/json binds to 's', as it is.
		pattern := edge.arg
		if w.plan.members.fold {
			pattern = edge.folded
			if hasUpper(key) {
				key = foldKey(key)
			}
		}
		ok, stopped := match.MatchLimit(key, pattern, maxMatchComplexity)
		if stopped {
			w.err = fmt.Errorf("rewrite: match a key against pattern %q: %w", edge.arg, ErrPatternTooComplex)
			return false
		}
		return ok
	}
	return false
}

// pathEndsAt reports whether some path of n ends at the member key.
func (w *walker) pathEndsAt(n *node, key string, ki *keyI) bool {
	if n == nil {
		return false
	}
	for e := range n.edges {
		edge := &n.edges[e]
		if edge.next.leaf >= 0 && w.keyMatches(edge, key, ki) {
			return true
		}
	}
	return false
}

// array visits the elements of the array at doc[i] and returns the index
// just past it. n may be nil (see walk).
func (w *walker) array(n *node, i int) int {
	if w.depth++; w.depth > w.plan.depth {
		return w.tooDeep()
	}
	s := w.b
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == ']' {
		w.depth--
		return i + 1
	}
	for idx := 0; ; idx++ {
		if i >= len(s) {
			return -1
		}
		vEnd := -1
		done := false
		if n != nil {
			for e := range n.edges {
				edge := &n.edges[e]
				if edge.kind == edgeEach || (edge.kind == edgeKey && edge.index == idx) {
					vEnd = w.walk(edge.next, i)
					if vEnd < 0 {
						return -1
					}
					done = true
				}
			}
		}
		if !done {
			vEnd = w.plain(i, w.plan.scanAll)
		}
		if vEnd < 0 {
			return -1
		}
		i = skipSpace(s, vEnd)
		if i >= len(s) {
			return -1
		}
		switch s[i] {
		case ']':
			w.depth--
			return i + 1
		case ',':
			i = skipSpace(s, i+1)
		default:
			return -1
		}
	}
}

// skip validates the value at doc[i], which nothing inside can match, and
// returns the index just past it.
func (w *walker) skip(i int) int { return w.plain(i, false) }

// plain visits the value at doc[i] where no path leads and returns the index
// just past it. With match, it collects the plan's members and prefixed
// strings in it; without, it only validates. plainObject and plainArray
// repeat its dispatch inline: this is the loop most bytes of a large
// document go through.
func (w *walker) plain(i int, match bool) int {
	s := w.b
	switch s[i] {
	case '"':
		end, esc := scanString(s, i)
		if match && end > i+1 && (esc || s[i+1] == w.prefix0) {
			w.prefixed(i, end, esc)
		}
		return end
	case '{':
		return w.plainObject(i, match)
	case '[':
		return w.plainArray(i, match)
	}
	return scanScalar(s, i)
}

// prefixed records the string doc[start:end] when it carries the plan's
// prefix. Callers test first that it can (w.prefix0).
func (w *walker) prefixed(start, end int, esc bool) {
	if w.plan.prefix != "" && w.hasPrefix(start, end, esc) {
		w.spans = append(w.spans, span{off: start, end: end, path: PrefixMatch})
	}
}

// plainObject is plain for the object at doc[i].
func (w *walker) plainObject(i int, match bool) int {
	if w.depth++; w.depth > w.plan.depth {
		return w.tooDeep()
	}
	s := w.b
	members := &w.plan.members
	named := match && members.len() > 0
	p0 := w.prefix0
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		w.depth--
		return i + 1
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return -1
		}
		kEnd, esc := shortString(s, i), false
		if kEnd < 0 {
			if kEnd, esc = scanString(s, i); kEnd < 0 {
				return -1
			}
		}
		m := -1
		if named {
			key := w.doc[i+1 : kEnd-1]
			if esc {
				key = gjson.Parse(w.doc[i:kEnd]).Str // rare: decode escapes to compare
			}
			m = members.lookup(key)
		}
		if i = kEnd; i >= len(s) || s[i] != ':' {
			if i = skipSpace(s, i); i >= len(s) || s[i] != ':' {
				return -1
			}
		}
		v := i + 1
		if v < len(s) && s[v] <= ' ' {
			v = skipSpace(s, v)
		}
		if v >= len(s) {
			return -1
		}
		var vEnd int
		switch {
		case m >= 0:
			// A member's value is replaced whole: nothing in it is matched.
			if vEnd = w.plain(v, false); vEnd >= 0 {
				w.spans = append(w.spans, span{off: v, end: vEnd, path: len(w.plan.paths) + m})
			}
		case s[v] == '"':
			var esc bool
			vEnd, esc = scanString(s, v)
			if match && vEnd > v+1 && (esc || s[v+1] == p0) {
				w.prefixed(v, vEnd, esc)
			}
		case s[v] == '{':
			vEnd = w.plainObject(v, match)
		case s[v] == '[':
			vEnd = w.plainArray(v, match)
		case s[v] <= '9':
			vEnd = scanNumber(s, v)
		default:
			vEnd = scanScalar(s, v)
		}
		if i = vEnd; i < 0 || i >= len(s) {
			return -1
		}
		if s[i] <= ' ' {
			if i = skipSpace(s, i); i >= len(s) {
				return -1
			}
		}
		switch s[i] {
		case '}':
			w.depth--
			return i + 1
		case ',':
			i++
			if i < len(s) && s[i] <= ' ' {
				i = skipSpace(s, i)
			}
		default:
			return -1
		}
	}
}

// plainArray is plain for the array at doc[i].
func (w *walker) plainArray(i int, match bool) int {
	if w.depth++; w.depth > w.plan.depth {
		return w.tooDeep()
	}
	s := w.b
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == ']' {
		w.depth--
		return i + 1
	}
	for {
		if i >= len(s) {
			return -1
		}
		var end int
		switch s[i] {
		case '"':
			esc := false
			if end = shortString(s, i); end < 0 {
				end, esc = scanString(s, i)
			}
			if match && end > i+1 && (esc || s[i+1] == w.prefix0) {
				w.prefixed(i, end, esc)
			}
		case '{':
			end = w.plainObject(i, match)
		case '[':
			end = w.plainArray(i, match)
		default:
			end = scanScalar(s, i)
		}
		if i = end; i < 0 || i >= len(s) {
			return -1
		}
		if s[i] <= ' ' {
			if i = skipSpace(s, i); i >= len(s) {
				return -1
			}
		}
		switch s[i] {
		case ']':
			w.depth--
			return i + 1
		case ',':
			i++
			if i < len(s) && s[i] <= ' ' {
				i = skipSpace(s, i)
			}
		default:
			return -1
		}
	}
}

// accepts reports whether a value starting with byte c has a shape n's
// edges can descend into. null never mismatches: nothing is under it.
func (n *node) accepts(c byte) bool {
	switch c {
	case 'n':
		return true
	case '{':
		for _, e := range n.edges {
			if e.kind == edgeKey || e.kind == edgeWild {
				return true
			}
		}
	case '[':
		for _, e := range n.edges {
			if e.kind == edgeEach || (e.kind == edgeKey && e.index >= 0) {
				return true
			}
		}
	}
	return false
}

func (n *node) shapeError(paths []string, c byte, off int) *ShapeError {
	want := "array"
	if c != '{' && n.accepts('{') {
		want = "object"
	}
	return &ShapeError{Path: paths[n.anyLeaf()], Offset: off, Want: want}
}

// skipSpace returns the index of the first byte at or after s[i] that is
// not JSON white space. Most documents have none between tokens, so a byte
// above ' ' is let through on one comparison.
func skipSpace(s []byte, i int) int {
	for i < len(s) && s[i] <= ' ' && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}

// Byte-parallel tests on eight bytes at a time (the usual SWAR tricks): for
// each, the lowest flagged byte is exact, and higher ones may be borrow
// artefacts, so only the lowest is ever used.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special flags the bytes of x (eight bytes of a string, little-endian)
// that end a plain run of ASCII string content: a quote or a control
// character (both below 0x21 once x is XORed with 0x02, which maps '"' to
// ' ' and keeps control characters below ' '), a backslash, or a byte of
// 0x80 or more (x's own high bits), whose UTF-8 scanString checks. A byte
// of 0x80 or more can also set the high bit of the two differences; it is
// flagged anyway, so no term needs to clear it.
func special(x uint64) uint64 {
	return ((x ^ ones*0x02 - ones*0x21) | (x ^ ones*'\\' - ones) | x) & highs
}

// load64 returns the eight bytes at b[i:], little-endian, for a caller that
// has checked i+8 <= len(b). Indexing each byte (which the compiler fuses
// into one load) avoids the slice arithmetic of binary.LittleEndian.Uint64
// on b[i:], which costs as much as the test it feeds.
func load64(b []byte, i int) uint64 {
	b = b[i : i+8 : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// shortString returns the index just past the string at b[i] when its
// content is shorter than eight bytes, ASCII and has no escape (most member
// names and many values), else -1; scanString reads the rest. It is small enough
// for the compiler to inline into the loops that call it.
func shortString(b []byte, i int) int {
	if i+9 <= len(b) {
		m := special(binary.LittleEndian.Uint64(b[i+1:]))
		if j := i + 1 + bits.TrailingZeros64(m)>>3; m != 0 && b[j] == '"' {
			return j + 1
		}
	}
	return -1
}

// scanString returns the index just past the string whose opening quote is
// at b[i], and whether it holds an escape; -1 when it is not a valid JSON
// string (a control character, a bad escape, no closing quote, bytes that
// are not UTF-8). Strings are most of a document, so it looks at eight
// bytes at a time for the bytes that need a closer look: a quote, a
// backslash, a control character, or a byte of 0x80 or more.
//
// The content must be valid UTF-8 (RFC 8259 section 8.1). encoding/json
// would read invalid bytes as U+FFFD, but parsers that decode overlong
// forms (Jackson's byte parser reads "emai\xC1\xAC" as "email") would see
// another member name than fieldseal, so such a string is refused. ASCII
// content costs nothing more; a run of other bytes is decoded rune by rune.
func scanString(b []byte, i int) (int, bool) {
	i++
	esc := false
	for {
		for i+8 <= len(b) {
			if m := special(load64(b, i)); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				goto special
			}
			i += 8
		}
		for ; i < len(b); i++ {
			if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				goto special
			}
		}
		return -1, esc
	special:
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return -1, esc
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1, esc
				}
				i += 6
			default:
				return -1, esc
			}
		case c >= utf8.RuneSelf:
			// A run of multi-byte characters: each must decode (no
			// overlong form, surrogate or truncated sequence).
			for i < len(b) && b[i] >= utf8.RuneSelf {
				r, size := utf8.DecodeRune(b[i:])
				if r == utf8.RuneError && size == 1 {
					return -1, esc
				}
				i += size
			}
		default: // a control character
			return -1, esc
		}
	}
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// scanScalar validates the number, true, false or null at b[i] and returns
// the index just past it, or -1. What follows is the caller's to check.
func scanScalar(b []byte, i int) int {
	switch b[i] {
	case 't':
		if i+4 <= len(b) && string(b[i:i+4]) == "true" {
			return i + 4
		}
	case 'f':
		if i+5 <= len(b) && string(b[i:i+5]) == "false" {
			return i + 5
		}
	case 'n':
		if i+4 <= len(b) && string(b[i:i+4]) == "null" {
			return i + 4
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return scanNumber(b, i)
	}
	return -1
}

// scanNumber validates the number at b[i] (RFC 8259 section 6: an optional
// minus, an integer without leading zeros, an optional fraction and
// exponent) and returns the index just past it, or -1. An integer, the
// common case, takes one loop.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i]-'1' < 9:
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && (b[i] == '.' || b[i]|0x20 == 'e') {
		return scanFraction(b, i)
	}
	return i
}

// scanFraction is scanNumber past the integer part, at a '.' or an
// exponent.
func scanFraction(b []byte, i int) int {
	if b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = digits(b, i)
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = digits(b, i)
	}
	return i
}

func isDigit(c byte) bool { return c-'0' < 10 }

// digits returns the index of the first byte at or after b[i] that is not a
// decimal digit.
func digits(b []byte, i int) int {
	for i < len(b) && b[i]-'0' < 10 {
		i++
	}
	return i
}

// EqualFold reports whether a and b are one name under the fold the guard
// gives member names (foldKey): strings.EqualFold (Unicode simple case
// folding, as Go's encoding/json), with the dotted and dotless I (U+0130,
// U+0131) also read as i, as Java's String.equalsIgnoreCase reads them.
// It allocates only when a or b holds one of those two.
func EqualFold(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	return (hasTurkishI(a) || hasTurkishI(b)) && foldKey(a) == foldKey(b)
}

// hasTurkishI reports whether s holds U+0130 or U+0131 (UTF-8 0xC4 0xB0
// and 0xC4 0xB1; 0xC4 alone also starts č, ě and others).
func hasTurkishI(s string) bool {
	return strings.Contains(s, "\u0130") || strings.Contains(s, "\u0131")
}

// foldKey maps every rune of s to one representative of its Unicode simple
// case folding orbit (foldRune), so that foldKey(a) == foldKey(b) exactly
// when strings.EqualFold(a, b), and a wildcard pattern folded the same way
// matches a folded key as encoding/json would bind it. The wildcard
// characters '*', '?' and '\\' fold onto themselves. s is returned as it is
// when no rune changes (an all-ASCII key without upper case).
func foldKey(s string) string {
	return strings.Map(foldRune, s)
}

// foldRune returns the representative of r's orbit under unicode.SimpleFold:
// the smallest rune in it (as encoding/json folds names), except that an
// ASCII upper-case letter is given as its lower case, so that ASCII keys
// without upper case are their own fold. 'K', 'k' and U+212A KELVIN SIGN
// all give 'k'; 'S', 's' and U+017F LATIN SMALL LETTER LONG S all give 's'.
// U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE and U+0131 LATIN SMALL
// LETTER DOTLESS I give 'i': they fold onto nothing under Unicode simple
// folding, yet Java's String.equalsIgnoreCase (which compares each char's
// upper case, then its lower case) equates "emaıl" and "EMAİL" with
// "email", and Jackson's case-insensitive properties are read that way.
func foldRune(r rune) rune {
	if r == '\u0130' || r == '\u0131' {
		return 'i'
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	if 'A' <= least && least <= 'Z' {
		least += 'a' - 'A'
	}
	return least
}

// hasUpper reports whether s has a byte that folding (foldKey) may change.
func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; ('A' <= c && c <= 'Z') || c >= 0x80 {
			return true
		}
	}
	return false
}
