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
}

// walk visits the value starting at doc[start] and returns the index just
// past it. A container the trie descends into is scanned once, by object or
// array, which find its end on the way; any other value is skipped.
// After an error (w.err) the returned index is meaningless.
func (w *walker) walk(n *node, start int) int {
	var end int
	switch {
	case len(n.edges) > 0 && w.b[start] == '{':
		end = w.object(n, start)
	case len(n.edges) > 0 && w.b[start] == '[':
		end = w.array(n, start)
	default:
		end = skipValue(w.b, start)
	}
	if n.leaf >= 0 {
		w.spans = append(w.spans, span{off: start, end: end, path: n.leaf})
	}
	return end
}

// object visits the members of the object at s[i] and returns the index
// just past it.
func (w *walker) object(n *node, i int) int {
	s := w.b
	i = skipSpace(s, i+1)
	if s[i] == '}' {
		return i + 1
	}
	for {
		kEnd := skipString(s, i)
		key := w.doc[i+1 : kEnd-1]
		if strings.IndexByte(key, '\\') >= 0 {
			key = gjson.Parse(w.doc[i:kEnd]).Str // rare: decode escapes to compare
		}
		i = skipSpace(s, kEnd) // at ':'
		v := skipSpace(s, i+1) // value start
		vEnd := -1             // value end, once known
		for e := range n.edges {
			edge := &n.edges[e]
			switch edge.kind {
			case edgeKey:
				if key != edge.arg {
					continue
				}
			case edgeWild:
				ok, stopped := match.MatchLimit(key, edge.arg, maxMatchComplexity)
				if stopped {
					w.err = fmt.Errorf("rewrite: match a key against pattern %q: %w", edge.arg, ErrPatternTooComplex)
					return 0
				}
				if !ok {
					continue
				}
			default:
				continue
			}
			vEnd = w.walk(edge.next, v)
			if w.err != nil {
				return 0
			}
		}
		if vEnd < 0 {
			vEnd = skipValue(s, v)
		}
		i = skipSpace(s, vEnd)
		if s[i] == '}' {
			return i + 1
		}
		i = skipSpace(s, i+1) // past ','
	}
}

// array visits the elements of the array at s[i] and returns the index just
// past it.
func (w *walker) array(n *node, i int) int {
	s := w.b
	i = skipSpace(s, i+1)
	if s[i] == ']' {
		return i + 1
	}
	for idx := 0; ; idx++ {
		vEnd := -1
		for e := range n.edges {
			edge := &n.edges[e]
			if edge.kind == edgeEach || (edge.kind == edgeKey && edge.index == idx) {
				vEnd = w.walk(edge.next, i)
				if w.err != nil {
					return 0
				}
			}
		}
		if vEnd < 0 {
			vEnd = skipValue(s, i)
		}
		i = skipSpace(s, vEnd)
		if s[i] == ']' {
			return i + 1
		}
		i = skipSpace(s, i+1)
	}
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
