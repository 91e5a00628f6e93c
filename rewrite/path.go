package rewrite

import (
	"fmt"
	"math"
	"strings"
)

// PathError reports a path that Compile refuses. Index is the position of the
// path in the list given to Compile, so callers can point at its source line.
type PathError struct {
	Index  int
	Path   string
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("rewrite path %q: %s", e.Path, e.Reason)
}

// edgeKind says how one path component selects children of a value.
type edgeKind uint8

const (
	// edgeKey selects an object member by exact key, or an array element by
	// index when the key is a decimal number (gjson semantics).
	edgeKey edgeKind = iota + 1
	// edgeWild selects every object member whose key matches a pattern.
	edgeWild
	// edgeEach selects every element of an array ('#').
	edgeEach
)

// component is one parsed path component.
type component struct {
	kind edgeKind
	// arg is the unescaped key for edgeKey and the pattern (escapes kept, as
	// github.com/tidwall/match expects them) for edgeWild.
	arg string
	// index is the array index named by a numeric edgeKey component, else -1.
	index int
}

// parsePath splits a gjson-style path into components, rejecting every
// construct that does not name a value in place.
func parsePath(path string) ([]component, string) {
	if path == "" {
		return nil, "path is empty"
	}
	switch path[0] {
	case '@':
		return nil, "modifiers (@...) are not supported"
	case '!':
		return nil, "literals (!...) are not supported; escape a leading '!' in a key as \\!"
	case '[', '{':
		return nil, "multipaths ([...] and {...}) are not supported; list each path separately"
	}
	var comps []component
	var raw, key strings.Builder
	var wild bool
	finish := func() string {
		r := raw.String()
		k := key.String()
		raw.Reset()
		key.Reset()
		w := wild
		wild = false
		switch {
		case r == "":
			return "empty component (two dots in a row, or a leading or trailing dot)"
		case r == "#":
			comps = append(comps, component{kind: edgeEach, index: -1})
			return ""
		case strings.HasPrefix(r, "#("):
			return "queries (#(...)) are not supported"
		case strings.HasPrefix(r, "@"):
			return "modifiers (@...) are not supported; escape a key starting with '@' as \\@"
		case strings.HasPrefix(r, "[") || strings.HasPrefix(r, "{"):
			return "multipaths ([...] and {...}) are not supported; escape a key starting with '[' or '{'"
		case strings.ContainsAny(unescapedOnly(r), "[]{}()"):
			return "'[', ']', '{', '}', '(' and ')' inside a key are literal in gjson, not an index, multipath or query, so the path is almost surely a typo; name an array element as its own component (items.0.email) and escape a literal bracket as \\["
		case strings.ContainsFunc(r, func(c rune) bool { return c < 0x20 || c == 0x7f }):
			return "a control character cannot be part of a key"
		case strings.Contains(unescapedOnly(r), "#"):
			return "'#' must be a whole component (every array element); escape a literal '#' as \\#"
		case w:
			comps = append(comps, component{kind: edgeWild, arg: r, index: -1})
			return ""
		}
		c := component{kind: edgeKey, arg: k, index: -1}
		c.index = arrayIndex(k)
		comps = append(comps, c)
		return ""
	}
	for i := 0; i < len(path); i++ {
		switch ch := path[i]; ch {
		case '\\':
			if i+1 == len(path) {
				return nil, "trailing backslash escapes nothing"
			}
			i++
			raw.WriteByte('\\')
			raw.WriteByte(path[i])
			key.WriteByte(path[i])
		case '.':
			if reason := finish(); reason != "" {
				return nil, reason
			}
		case '|':
			return nil, "pipes (|) are not supported"
		case '*', '?':
			wild = true
			raw.WriteByte(ch)
			key.WriteByte(ch)
		default:
			raw.WriteByte(ch)
			key.WriteByte(ch)
		}
	}
	if reason := finish(); reason != "" {
		return nil, reason
	}
	if comps[len(comps)-1].kind == edgeEach {
		return nil, "a trailing '#' is the array length, not a value; name the elements, e.g. \"a.#.b\", or the array itself"
	}
	return comps, ""
}

// arrayIndex returns the array index a key names (decimal digits only, as
// gjson reads them), or -1. Indexes beyond any real array clamp to MaxInt32.
func arrayIndex(k string) int {
	if k == "" {
		return -1
	}
	n := 0
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return -1
		}
		if n < math.MaxInt32 {
			n = n*10 + int(k[i]-'0')
		}
	}
	return min(n, math.MaxInt32)
}

// unescapedOnly returns s without escaped characters, to look for special
// characters that were written unescaped.
func unescapedOnly(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
