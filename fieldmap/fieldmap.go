package fieldmap

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fieldseal/fieldseal/lineerr"
	"github.com/fieldseal/fieldseal/rewrite"
)

// Class is a field class: a kind of protected value and its settings.
type Class struct {
	Name          string
	Deterministic bool
	// Index is the class's position in Map.Classes (and Side.Classes), for
	// per-class tables.
	Index int
	// Keys are the member names that hold the class anywhere.
	Keys []string
	// SealEmpty seals JSON null and the empty string; when false they pass
	// unsealed both ways (their presence, not a value, is what they reveal).
	SealEmpty bool
	// Operators: a request value that is an operator object (all member
	// names start with "$") has its operands sealed, not the object (see
	// package transform). Only set on deterministic classes.
	Operators bool
}

// UnmatchedRoute is the name of the route that guards requests no
// configured route lists (Map.Unmatched).
const UnmatchedRoute = "unmatched"

// Route is a protected route. Every route, and Map.Unmatched, has both
// sides: a route that lists no fields for a direction still seals class
// members in requests and finds sealed values in responses.
type Route struct {
	Name          string
	Request       *Side  // values sealed in the request body
	Response      *Side  // values opened in the response body
	ContextHeader string // request header bound into the AAD; empty for none
	// ContextParam is the path parameter bound into the AAD; empty for none
	// (see PathParam).
	ContextParam string
	// ContextMember is the top-level body member bound into the AAD; empty
	// for none.
	ContextMember string
	fold          bool // the map's path comparison (guard.path_case)
	// ResponseTypes are the media types (lower case type/subtype, no
	// parameters) of responses opened as JSON besides application/json
	// and +json types; ResponseSniff opens a response of any other type
	// whose body is a JSON object or array.
	ResponseTypes []string
	ResponseSniff bool
	// Query is the side of the route's protected query parameters, whose
	// Members are the parameters (Path is the name); nil for none. Its
	// plan is applied to the query string as to a form (Plan.ApplyForm).
	Query *Side
	// QueryFilters are the route's filter-expression parameters
	// (QuerySpec.Member); FilterSide seals their literals as documents
	// {member: literal}: its Members are the filter members.
	QueryFilters []QueryFilter
	FilterSide   *Side
	// Stream is RouteSpec.Stream: StreamNDJSON or empty.
	Stream string
	// UpstreamTimeout and BodyTimeout are the route's own timeouts; zero
	// for the proxy's.
	UpstreamTimeout time.Duration
	BodyTimeout     time.Duration
	patterns        []pattern
}

// PathParam returns the value of the route's path parameter name in the
// request, read from the first of its path readings (see Lookup) that one
// of the route's patterns matches; ok is false when none does.
func (r *Route) PathParam(name, urlPath, escapedPath string) (value string, ok bool) {
	var pbuf [maxPaths]string
	for _, p := range paths(pbuf[:0], urlPath, escapedPath) {
		for i := range r.patterns {
			if r.patterns[i].match(p, r.fold) {
				return r.patterns[i].param(p, name)
			}
		}
	}
	return "", false
}

// RewritePathParams appends the values of the route's path parameter name
// in the paths of a request's RewriteHeaders (header as for LookupAll) that
// one of the route's patterns matches: where an application routes by such
// a header, it reads the parameter there.
func (r *Route) RewritePathParams(dst []string, name string, header func(string) []string) []string {
	var pbuf [maxPaths]string
	for _, h := range RewriteHeaders {
		for _, v := range header(h) {
			for _, p := range rewritePaths(pbuf[:0], v) {
				for i := range r.patterns {
					if r.patterns[i].match(p, r.fold) {
						if val, ok := r.patterns[i].param(p, name); ok {
							dst = append(dst, val)
						}
						break
					}
				}
			}
		}
	}
	return dst
}

// Side is what one body direction protects. Plan's match index i names
// Fields[i] for i < len(Fields), Members[i-len(Fields)] for the class
// members, and a sealed value of unknown class (found by the sealed prefix)
// for rewrite.PrefixMatch.
type Side struct {
	Plan   *rewrite.Plan
	Fields []Field
	// Members are the class members matched at any depth, one per key: Path
	// is the key.
	Members []Field
	// Classes are every class of the map, by Index.
	Classes []*Class
	// Inner matches the class members and sealed values inside a value
	// that a path or member matched whole (an object or array): its match
	// index j names Members[j], or rewrite.PrefixMatch. Nil when the map has
	// neither members nor a sealed prefix.
	Inner *rewrite.Plan
}

// Field returns what match index i of Plan names; ok is false for
// rewrite.PrefixMatch (a sealed value whose class the document does not
// say).
func (s *Side) Field(i int) (f Field, ok bool) {
	switch {
	case i < 0:
		return Field{}, false
	case i < len(s.Fields):
		return s.Fields[i], true
	default:
		return s.Members[i-len(s.Fields)], true
	}
}

// HasPaths reports whether the side lists explicit paths (beyond members).
func (s *Side) HasPaths() bool { return len(s.Fields) > 0 }

// Field is one protected field: its gjson path (or member name) and class.
type Field struct {
	Path  string
	Class *Class
}

// Map is a compiled field map. It is immutable and safe for concurrent use.
type Map struct {
	classes   []*Class
	routes    []*Route
	byMethod  map[string][]entry
	methods   []string // the keys of byMethod, sorted
	unmatched *Route
	guard     GuardSpec
}

// Guard returns the guard settings, defaults applied.
func (m *Map) Guard() GuardSpec { return m.guard }

// Unmatched returns the route that guards requests no configured route
// lists: its request side seals class members, its response side opens
// sealed values and class members wherever they appear.
func (m *Map) Unmatched() *Route { return m.unmatched }

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
// protects a request is LookupAll's job; Match is the single reading it tries.
func (m *Map) Match(method, path string) *Route {
	es := m.byMethod[method]
	fold := m.guard.PathCase != CaseSensitive
	for i := range es {
		if es[i].pat.match(path, fold) {
			return es[i].route
		}
	}
	return nil
}

// Compile checks spec and builds a Map. Every problem is reported, each as a
// *lineerr.Error with spec.File and the line of the entry at fault, joined
// with errors.Join.
func Compile(spec Spec) (*Map, error) {
	c := compiler{file: spec.File, prefix: spec.SealedPrefix}
	m := &Map{byMethod: map[string][]entry{}, guard: c.guard(spec.Guard)}
	c.caseSensitive = m.guard.MemberCase == CaseSensitive
	classes := map[string]*Class{}
	for _, cc := range spec.Classes {
		cl := &Class{Name: cc.Name, Deterministic: cc.Mode == ModeDeterministic, Index: len(m.classes), Keys: cc.Keys, SealEmpty: cc.SealEmpty, Operators: cc.Operators}
		if cc.Operators && !cl.Deterministic {
			c.errorf(cc.Line, "class %q: operators needs mode %s (a query can only find a sealed value that seals the same every time)", cc.Name, ModeDeterministic)
		}
		classes[cc.Name] = cl
		m.classes = append(m.classes, cl)
	}
	c.members(spec.Classes, m.classes)
	c.all = m.classes
	m.unmatched = &Route{Name: UnmatchedRoute, Request: c.side(nil, classes, "request"), Response: c.side(nil, classes, "response")}
	names := map[string]int{}
	type placed struct {
		entry
		method string
		line   int
	}
	var all []placed
	for _, rc := range spec.Routes {
		if rc.Name == UnmatchedRoute {
			c.errorf(rc.Line, "route name %q is reserved for requests no route lists", rc.Name)
		}
		if first, dup := names[rc.Name]; dup {
			c.errorf(rc.Line, "route name %q is already used by the route at line %d", rc.Name, first)
		} else {
			names[rc.Name] = rc.Line
		}
		r := &Route{Name: rc.Name, ContextHeader: rc.Context.Header, ContextParam: rc.Context.PathParam, ContextMember: rc.Context.Member,
			fold: m.guard.PathCase != CaseSensitive}
		if n := btoi(r.ContextHeader != "") + btoi(r.ContextParam != "") + btoi(r.ContextMember != ""); n > 1 {
			c.errorf(rc.Line, "route %q: context binds one of a header, a path parameter or a member, not %d", rc.Name, n)
		}
		r.ResponseTypes, r.ResponseSniff = c.responseTypes(rc), rc.ResponseSniff
		r.Query, r.QueryFilters, r.FilterSide = c.query(rc, classes)
		r.Stream = rc.Stream
		r.UpstreamTimeout, r.BodyTimeout = rc.UpstreamTimeout, rc.BodyTimeout
		if rc.UpstreamTimeout < 0 || rc.BodyTimeout < 0 {
			c.errorf(rc.Line, "route %q: timeouts must be positive", rc.Name)
		}
		if rc.Stream != "" && rc.Stream != StreamNDJSON {
			c.errorf(rc.Line, "route %q: stream %q is not %s", rc.Name, rc.Stream, StreamNDJSON)
		}
		r.Request = c.side(rc.Request, classes, "request")
		r.Response = c.side(rc.Response, classes, "response")
		m.routes = append(m.routes, r)
		for _, p := range rc.Paths {
			pat, reason := parsePattern(p.Pattern)
			if reason != "" {
				c.errorf(p.Line, "path pattern %q: %s", p.Pattern, reason)
				continue
			}
			if r.ContextParam != "" && !pat.hasParam(r.ContextParam) {
				c.errorf(p.Line, "route %q: path %q has no parameter {%s} for context.path_param", rc.Name, p.Pattern, r.ContextParam)
			}
			r.patterns = append(r.patterns, pat)
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
	for method := range m.byMethod {
		m.methods = append(m.methods, method)
	}
	sort.Strings(m.methods)
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
	file          string
	prefix        string
	caseSensitive bool
	memberFields  []Field  // every class key, with its class
	memberNames   []string // the same keys, for rewrite
	all           []*Class
	errs          []error
}

// guard checks the guard settings and applies their defaults. A decoder
// already refused unknown values (the types' UnmarshalText); a Spec built
// in code is checked by the same methods.
func (c *compiler) guard(g GuardSpec) GuardSpec {
	guardSetting(c, g.Line, "unmatched", &g.Unmatched, UnmatchedSeal, (*Unmatched).UnmarshalText)
	guardSetting(c, g.Line, "member_case", &g.MemberCase, CaseInsensitive, (*Case).UnmarshalText)
	guardSetting(c, g.Line, "path_case", &g.PathCase, CaseInsensitive, (*Case).UnmarshalText)
	guardSetting(c, g.Line, "sealed_writes", &g.SealedWrites, SealedWritesRefuse, (*SealedWrites).UnmarshalText)
	return g
}

// guardSetting defaults an empty *v to def and checks any other value with
// parse, the setting's own UnmarshalText.
func guardSetting[T ~string](c *compiler, line int, key string, v *T, def T, parse func(*T, []byte) error) {
	if *v == "" {
		*v = def
		return
	}
	if err := parse(v, []byte(*v)); err != nil {
		c.errorf(line, "guard.%s %v", key, err)
	}
}

// members collects every class key, refusing a key that two classes claim
// (or one class twice) under the map's comparison.
func (c *compiler) members(specs []ClassSpec, classes []*Class) {
	type owner struct {
		key  string
		spec *ClassSpec
	}
	var seen []owner
	for i := range specs {
		cs := &specs[i]
		for _, k := range cs.Keys {
			if k == "" {
				c.errorf(cs.Line, "class %q: a key is empty", cs.Name)
				continue
			}
			dup := false
			for _, o := range seen {
				if o.key == k || (!c.caseSensitive && strings.EqualFold(o.key, k)) {
					c.errorf(cs.Line, "class %q: key %q is already a key of class %q (line %d); member names are compared %s",
						cs.Name, k, o.spec.Name, o.spec.Line, map[bool]string{true: "exactly", false: "case-insensitively"}[c.caseSensitive])
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			seen = append(seen, owner{k, cs})
			c.memberFields = append(c.memberFields, Field{Path: k, Class: classes[i]})
			c.memberNames = append(c.memberNames, k)
		}
	}
}

func (c *compiler) errorf(line int, format string, args ...any) {
	c.errs = append(c.errs, &lineerr.Error{File: c.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// side compiles one body direction of a route: its fields (none for the
// unmatched route or a direction a route does not list), every class
// member, and the sealed prefix. A request side refuses paths that meet
// another shape than they imply (rewrite.Spec.StrictShape).
func (c *compiler) side(fields []FieldSpec, classes map[string]*Class, which string) *Side {
	s := &Side{Members: c.memberFields, Classes: c.all}
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
	plan, err := rewrite.CompileSpec(rewrite.Spec{
		Paths:         paths,
		Members:       c.memberNames,
		CaseSensitive: c.caseSensitive,
		Prefix:        c.prefix,
		StrictShape:   which == "request",
	})
	if err != nil {
		for _, e := range unjoin(err) {
			var pe *rewrite.PathError
			switch {
			case errors.As(e, &pe):
				c.errorf(fields[pe.Index].Line, "%s field path %q: %s", which, pe.Path, pe.Reason)
			case len(fields) > 0:
				c.errorf(fields[0].Line, "%s fields: %v", which, e)
			default:
				c.errorf(0, "%s class members: %v", which, e)
			}
		}
		return nil
	}
	if !ok {
		return nil
	}
	s.Plan = plan
	if len(c.memberNames) > 0 || c.prefix != "" {
		inner, err := rewrite.CompileSpec(rewrite.Spec{Members: c.memberNames, CaseSensitive: c.caseSensitive, Prefix: c.prefix})
		if err != nil {
			c.errorf(0, "%s class members: %v", which, err)
			return nil
		}
		s.Inner = inner
	}
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

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
