package rewrite

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/match"
)

// This file walks a document that gjson.ValidBytes has already accepted.
// Validity is what keeps the scanner small: it only needs to find where
// strings and containers end, never to diagnose bad input. gjson's own
// iteration (Result.ForEach) would do the same walk, but it decodes every
// value it passes: numbers through strconv, and every string with an escape
// into a newly allocated string, which would make Apply allocate on
// ordinary documents. Only a key with an escape is decoded here.

// walker descends the trie and the document together.
type walker struct {
	doc   string // the document, for key comparisons
	b     []byte // the same document, for scanning
	spans []span
	err   error
	plan  *Plan
}

// walk visits the value starting at doc[start] and returns the index just
// past it. n is the trie state that reached the value, or nil when only the
// plan's members and prefix still apply. A container the trie descends into
// (or, when the plan scans everything, any container) is scanned once, by
// object or array, which find its end on the way; any other value is
// skipped. After an error (w.err) the returned index is meaningless.
func (w *walker) walk(n *node, start int) int {
	if n != nil && n.leaf >= 0 && len(n.edges) == 0 {
		// Replaced whole: nothing inside it matters.
		end := skipValue(w.b, start)
		w.spans = append(w.spans, span{off: start, end: end, path: n.leaf})
		return end
	}
	edges := n != nil && len(n.edges) > 0
	if edges && w.plan.strict && !n.accepts(w.b[start]) {
		w.err = n.shapeError(w.plan.paths, w.b[start], start)
		return 0
	}
	var end int
	switch c := w.b[start]; {
	case c == '{' && (edges || w.plan.scanAll):
		end = w.object(n, start)
	case c == '[' && (edges || w.plan.scanAll):
		end = w.array(n, start)
	case c == '"' && w.plan.prefix != "":
		end = skipString(w.b, start)
		content := w.doc[start+1 : end-1]
		if strings.IndexByte(content, '\\') >= 0 {
			// An application decodes escapes before it stores the value:
			// "\u0066s1:..." is a sealed value too.
			content = gjson.Parse(w.doc[start:end]).Str
		}
		if strings.HasPrefix(content, w.plan.prefix) {
			w.spans = append(w.spans, span{off: start, end: end, path: PrefixMatch})
		}
	default:
		end = skipValue(w.b, start)
	}
	if n != nil && n.leaf >= 0 {
		w.spans = append(w.spans, span{off: start, end: end, path: n.leaf})
	}
	return end
}

// object visits the members of the object at s[i] and returns the index
// just past it. n may be nil (see walk).
func (w *walker) object(n *node, i int) int {
	s := w.b
	i = skipSpace(s, i+1)
	if s[i] == '}' {
		return i + 1
	}
	members := &w.plan.members
	for {
		kEnd := skipString(s, i)
		key := w.doc[i+1 : kEnd-1]
		if strings.IndexByte(key, '\\') >= 0 {
			key = gjson.Parse(w.doc[i:kEnd]).Str // rare: decode escapes to compare
		}
		i = skipSpace(s, kEnd) // at ':'
		v := skipSpace(s, i+1) // value start
		vEnd := -1             // value end, once known
		// A member of the set is replaced whole, unless a path ends at the
		// same value (the path says more: its own class).
		if m := members.lookup(key); m >= 0 && !w.pathEndsAt(n, key) {
			if w.err != nil {
				return 0
			}
			vEnd = skipValue(s, v)
			w.spans = append(w.spans, span{off: v, end: vEnd, path: len(w.plan.paths) + m})
		} else if w.err != nil {
			return 0
		} else if n != nil {
			for e := range n.edges {
				edge := &n.edges[e]
				if ok := w.keyMatches(edge, key); !ok {
					if w.err != nil {
						return 0
					}
					continue
				}
				vEnd = w.walk(edge.next, v)
				if w.err != nil {
					return 0
				}
			}
		}
		if vEnd < 0 {
			if w.plan.scanAll {
				vEnd = w.walk(nil, v)
				if w.err != nil {
					return 0
				}
			} else {
				vEnd = skipValue(s, v)
			}
		}
		i = skipSpace(s, vEnd)
		if s[i] == '}' {
			return i + 1
		}
		i = skipSpace(s, i+1) // past ','
	}
}

// keyMatches reports whether edge selects the object member key. A wildcard
// too complex to decide sets w.err and reports false.
func (w *walker) keyMatches(edge *edge, key string) bool {
	switch edge.kind {
	case edgeKey:
		// Path components compare like members: an application that binds
		// "CONTACT" to contact (Go's encoding/json) must not get it unsealed.
		return key == edge.arg || (w.plan.members.fold && strings.EqualFold(key, edge.arg))
	case edgeWild:
		pattern := edge.arg
		if w.plan.members.fold && hasUpper(key) {
			key, pattern = strings.ToLower(key), strings.ToLower(pattern)
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
func (w *walker) pathEndsAt(n *node, key string) bool {
	if n == nil {
		return false
	}
	for e := range n.edges {
		edge := &n.edges[e]
		if edge.next.leaf >= 0 && w.keyMatches(edge, key) {
			return true
		}
	}
	return false
}

// array visits the elements of the array at s[i] and returns the index just
// past it. n may be nil (see walk).
func (w *walker) array(n *node, i int) int {
	s := w.b
	i = skipSpace(s, i+1)
	if s[i] == ']' {
		return i + 1
	}
	for idx := 0; ; idx++ {
		vEnd := -1
		if n != nil {
			for e := range n.edges {
				edge := &n.edges[e]
				if edge.kind == edgeEach || (edge.kind == edgeKey && edge.index == idx) {
					vEnd = w.walk(edge.next, i)
					if w.err != nil {
						return 0
					}
				}
			}
		}
		if vEnd < 0 {
			if w.plan.scanAll {
				vEnd = w.walk(nil, i)
				if w.err != nil {
					return 0
				}
			} else {
				vEnd = skipValue(s, i)
			}
		}
		i = skipSpace(s, vEnd)
		if s[i] == ']' {
			return i + 1
		}
		i = skipSpace(s, i+1)
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

func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index just past the string whose opening quote is
// at b[i]. It looks at eight bytes at a time for a quote or a backslash
// (the usual SWAR zero-byte test), since strings are most of a document.
func skipString(b []byte, i int) int {
	i++
	for {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			q := w ^ 0x2222222222222222 // zero bytes where w has '"'
			e := w ^ 0x5c5c5c5c5c5c5c5c // zero bytes where w has '\\'
			m := ((q - 0x0101010101010101) &^ q) | ((e - 0x0101010101010101) &^ e)
			if m &= 0x8080808080808080; m != 0 {
				// The lowest flagged byte is exact; higher ones may be
				// borrow artefacts, and the byte loop below re-checks.
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i += 2
		default:
			i++
		}
	}
}

// skipValue returns the index just past the value starting at s[i].
func skipValue(s []byte, i int) int {
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for {
			switch s[i] {
			case '"':
				i = skipString(s, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default: // number, true, false, null
		for i < len(s) {
			switch s[i] {
			case ',', '}', ']', ' ', '\n', '\r', '\t':
				return i
			}
			i++
		}
		return i
	}
}

// hasUpper reports whether s has a byte that lower-casing would change.
func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; ('A' <= c && c <= 'Z') || c >= 0x80 {
			return true
		}
	}
	return false
}
