package fieldmap

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/fieldseal/fieldseal/lineerr"
	"github.com/fieldseal/fieldseal/rewrite"
)

// Class is a field class: a kind of protected value and its settings.
type Class struct {
	Name          string
	Deterministic bool
	// SealEmpty seals JSON null and the empty string; when false they pass
	// unsealed both ways (their presence, not a value, is what they reveal).
	SealEmpty bool // Operators: a request value that is an operator object (all member
	// names start with "$") has its operands sealed, not the object (see
	// package transform). Only set on deterministic classes.
	Operators bool
}

// Route is a protected route.
type Route struct {
	Name          string
	Request       *Side  // fields sealed in the request body; nil for none
	Response      *Side  // fields opened in the response body; nil for none
	ContextHeader string // request header bound into the AAD; empty for none
}

// Side is the set of fields of one body direction. Fields[i] is what path i
// of Plan matches.
type Side struct {
	Plan   *rewrite.Plan
	Fields []Field
}

// Field is one protected field: its gjson path and class.
type Field struct {
	Path  string
	Class *Class
}

// Map is a compiled field map. It is immutable and safe for concurrent use.
type Map struct {
	classes  []*Class
	routes   []*Route
	byMethod map[string][]entry
}

type entry struct {
	pat   pattern
	route *Route
}

// Classes returns the classes in configuration order.
func (m *Map) Classes() []*Class { return append([]*Class(nil), m.classes...) }

// Routes returns the routes in configuration order (for example to set up
// per-route metrics before the first request).
func (m *Map) Routes() []*Route { return append([]*Route(nil), m.routes...) }

// Match returns the route for method and the URL path under exactly this
// reading, or nil: the method is compared exactly. When several routes'
// patterns match, the most specific wins (a literal segment before a
// {parameter}, either before a final /*). Deciding which route
// protects a request is Lookup's job; Match is the single reading it tries.
func (m *Map) Match(method, path string) *Route {
	es := m.byMethod[method]
	for i := range es {
		if es[i].pat.match(path) {
			return es[i].route
		}
	}
	return nil
}

// Compile checks spec and builds a Map. Every problem is reported, each as a
// *lineerr.Error with spec.File and the line of the entry at fault, joined
// with errors.Join.
func Compile(spec Spec) (*Map, error) {
	c := compiler{file: spec.File}
	m := &Map{byMethod: map[string][]entry{}}
	classes := map[string]*Class{}
	for _, cc := range spec.Classes {
		cl := &Class{Name: cc.Name, Deterministic: cc.Mode == ModeDeterministic, SealEmpty: cc.SealEmpty, Operators: cc.Operators}
		if cc.Operators && !cl.Deterministic {
			c.errorf(cc.Line, "class %q: operators needs mode %s (a query can only find a sealed value that seals the same every time)", cc.Name, ModeDeterministic)
		}
		classes[cc.Name] = cl
		m.classes = append(m.classes, cl)
	}
	names := map[string]int{}
	type placed struct {
		entry
		method string
		line   int
	}
	var all []placed
	for _, rc := range spec.Routes {
		if first, dup := names[rc.Name]; dup {
			c.errorf(rc.Line, "route name %q is already used by the route at line %d", rc.Name, first)
		} else {
			names[rc.Name] = rc.Line
		}
		r := &Route{Name: rc.Name, ContextHeader: rc.Context.Header}
		r.Request = c.side(rc.Request, classes, "request")
		r.Response = c.side(rc.Response, classes, "response")
		m.routes = append(m.routes, r)
		for _, p := range rc.Paths {
			pat, reason := parsePattern(p.Pattern)
			if reason != "" {
				c.errorf(p.Line, "path pattern %q: %s", p.Pattern, reason)
				continue
			}
			for _, method := range rc.Methods {
				all = append(all, placed{entry{pat, r}, method, p.Line})
			}
		}
	}
	// Of two routes that can match the same request, the more specific
	// pattern wins (see orderBySpecificity). Two that match the same paths,
	// or overlap with neither more specific, would make the field set
	// depend on declaration order; refuse them.
	for i := range all {
		for j := 0; j < i; j++ {
			a, b := &all[j], &all[i]
			if a.method != b.method || a.route == b.route || !a.pat.overlaps(&b.pat) ||
				a.pat.moreSpecific(&b.pat) || b.pat.moreSpecific(&a.pat) {
				continue
			}
			if a.pat.within(&b.pat) {
				c.errorf(b.line, "route %q: %s %s matches the same paths as %s %s of route %q (line %d); one route must own them",
					b.route.Name, b.method, b.pat.text, a.method, a.pat.text, a.route.Name, a.line)
				continue
			}
			c.errorf(b.line, "route %q: %s %s overlaps %s %s of route %q (line %d) and neither is more specific; make the patterns disjoint or one within the other",
				b.route.Name, b.method, b.pat.text, a.method, a.pat.text, a.route.Name, a.line)
		}
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	for _, p := range all {
		m.byMethod[p.method] = insertBySpecificity(m.byMethod[p.method], p.entry)
	}
	return m, nil
}

// insertBySpecificity inserts e into es, which lists every pattern before
// the patterns it is more specific than, keeping that order: e goes just
// before the first entry it is more specific than (every entry more
// specific than e is already before that one), or last. Match then returns
// the first entry that matches.
func insertBySpecificity(es []entry, e entry) []entry {
	for i := range es {
		if e.pat.moreSpecific(&es[i].pat) {
			return slices.Insert(es, i, e)
		}
	}
	return append(es, e)
}

type compiler struct {
	file string
	errs []error
}

func (c *compiler) errorf(line int, format string, args ...any) {
	c.errs = append(c.errs, &lineerr.Error{File: c.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// side compiles one body direction of a route.
func (c *compiler) side(fields []FieldSpec, classes map[string]*Class, which string) *Side {
	if len(fields) == 0 {
		return nil
	}
	s := &Side{}
	paths := make([]string, len(fields))
	ok := true
	for i, f := range fields {
		paths[i] = f.Path
		cl, found := classes[f.Class]
		if !found {
			c.errorf(f.Line, "%s field %q: unknown class %q (classes are: %s)", which, f.Path, f.Class, classList(classes))
			ok = false
		}
		s.Fields = append(s.Fields, Field{Path: f.Path, Class: cl})
	}
	plan, err := rewrite.Compile(paths)
	if err != nil {
		for _, e := range unjoin(err) {
			var pe *rewrite.PathError
			if errors.As(e, &pe) {
				c.errorf(fields[pe.Index].Line, "%s field path %q: %s", which, pe.Path, pe.Reason)
			} else {
				c.errorf(fields[0].Line, "%s fields: %v", which, e)
			}
		}
		return nil
	}
	if !ok {
		return nil
	}
	s.Plan = plan
	return s
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func classList(classes map[string]*Class) string {
	if len(classes) == 0 {
		return "none declared"
	}
	names := make([]string, 0, len(classes))
	for n := range classes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
