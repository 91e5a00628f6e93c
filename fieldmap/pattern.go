package fieldmap

import (
	"strings"

	"github.com/fieldseal/fieldseal/rewrite"
)

// pattern is a compiled URL path pattern.
type pattern struct {
	text   string
	segs   []segment
	prefix bool // a trailing /*: the segments so far, then anything or nothing
}

type segment struct {
	lit   string // literal text; empty for a parameter
	param bool   // {name}: exactly one non-empty segment
	name  string // the parameter's name
}

// parsePattern compiles "/a/{id}/b" or "/a/*"; it returns a reason on error.
func parsePattern(text string) (pattern, string) {
	p := pattern{text: text}
	if !strings.HasPrefix(text, "/") {
		return p, "must start with /"
	}
	rest := strings.TrimSuffix(text[1:], "/")
	if rest == "" {
		return p, ""
	}
	params := map[string]bool{}
	parts := strings.Split(rest, "/")
	for i, s := range parts {
		switch {
		case s == "":
			return p, "has an empty segment (//)"
		case s == "*":
			if i != len(parts)-1 {
				return p, "* is only allowed as the last segment (a prefix match)"
			}
			p.prefix = true
		case s == "." || s == "..":
			return p, "has a dot segment"
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if name == "" || strings.ContainsAny(name, "{}*") {
				return p, "has a bad parameter " + s + "; write {name}"
			}
			if params[name] {
				return p, "uses parameter {" + name + "} twice"
			}
			params[name] = true
			p.segs = append(p.segs, segment{param: true, name: name})
		case strings.ContainsAny(s, "{}*?#%"):
			return p, "segment " + s + " mixes literal text with {, }, *, ?, # or %; a segment is literal text, {name} or a final *"
		default:
			p.segs = append(p.segs, segment{lit: s})
		}
	}
	return p, ""
}

// match reports whether the URL path matches. Repeated and trailing slashes
// are ignored; with fold, literals compare case-insensitively. It does not
// allocate.
func (p *pattern) match(path string, fold bool) bool {
	i := 0
	for _, s := range p.segs {
		for i < len(path) && path[i] == '/' {
			i++
		}
		if i == len(path) {
			return false
		}
		j := strings.IndexByte(path[i:], '/')
		if j < 0 {
			j = len(path)
		} else {
			j += i
		}
		if !s.param && path[i:j] != s.lit && (!fold || !rewrite.EqualFold(path[i:j], s.lit)) {
			return false
		}
		i = j
	}
	if p.prefix {
		return true
	}
	for i < len(path) && path[i] == '/' {
		i++
	}
	return i == len(path)
}

// param returns the value of parameter name in path, which p matches.
func (p *pattern) param(path, name string) (string, bool) {
	i := 0
	for _, s := range p.segs {
		for i < len(path) && path[i] == '/' {
			i++
		}
		j := strings.IndexByte(path[i:], '/')
		if j < 0 {
			j = len(path)
		} else {
			j += i
		}
		if s.param && s.name == name {
			return path[i:j], true
		}
		i = j
	}
	return "", false
}

// hasParam reports whether p has a parameter called name.
func (p *pattern) hasParam(name string) bool {
	for _, s := range p.segs {
		if s.param && s.name == name {
			return true
		}
	}
	return false
}

// overlaps reports whether some path matches both p and q.
func (p *pattern) overlaps(q *pattern) bool {
	for i := 0; ; i++ {
		pEnd, qEnd := i == len(p.segs), i == len(q.segs)
		if (pEnd && p.prefix) || (qEnd && q.prefix) {
			return true
		}
		if pEnd || qEnd {
			return pEnd && qEnd
		}
		a, b := p.segs[i], q.segs[i]
		if !a.param && !b.param && !strings.EqualFold(a.lit, b.lit) {
			return false
		}
	}
}

// within reports whether every path p matches, q matches too (p's paths are
// a subset of q's). A literal segment is within a parameter, a parameter or
// a literal within a final /*; the converse never holds.
func (p *pattern) within(q *pattern) bool {
	for i := 0; ; i++ {
		pEnd, qEnd := i == len(p.segs), i == len(q.segs)
		switch {
		case qEnd && q.prefix:
			return true
		case pEnd && qEnd:
			return !p.prefix
		case pEnd || qEnd:
			return false
		}
		a, b := p.segs[i], q.segs[i]
		switch {
		case b.param:
		case a.param || !strings.EqualFold(a.lit, b.lit):
			return false
		}
	}
}

// moreSpecific reports whether p matches a strict subset of q's paths: p
// wins a request both match, as in routers (a literal segment before a
// parameter, a parameter or a longer pattern before a final /*).
func (p *pattern) moreSpecific(q *pattern) bool { return p.within(q) && !q.within(p) }
