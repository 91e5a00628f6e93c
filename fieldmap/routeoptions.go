package fieldmap

import (
	"mime"
	"strings"

	"github.com/fieldseal/fieldseal/rewrite"
)

// responseTypes checks and normalises a route's response_types: each must
// be a media type type/subtype without parameters or wildcards.
func (c *compiler) responseTypes(rc RouteSpec) []string {
	var out []string
	for _, t := range rc.ResponseTypes {
		mt, params, err := mime.ParseMediaType(t)
		if err != nil || len(params) > 0 || strings.Contains(mt, "*") || !strings.Contains(mt, "/") {
			c.errorf(rc.Line, "route %q: response_types entry %q is not a media type type/subtype (no parameters, no wildcards)", rc.Name, t)
			continue
		}
		out = append(out, mt)
	}
	return out
}

// query compiles a route's protected query parameters; nil for none. Every
// class must be deterministic: a random seal of the parameter would never
// equal the value the application stored.
func (c *compiler) query(rc RouteSpec, classes map[string]*Class) *Side {
	if len(rc.Query) == 0 {
		return nil
	}
	s := &Side{Classes: c.all}
	var names []string
	ok := true
	for _, q := range rc.Query {
		cl, found := classes[q.Class]
		switch {
		case q.Param == "":
			c.errorf(q.Line, "route %q: a query parameter has no param name", rc.Name)
		case !found:
			c.errorf(q.Line, "route %q: query parameter %q: unknown class %q (classes are: %s)", rc.Name, q.Param, q.Class, classList(classes))
		case !cl.Deterministic:
			c.errorf(q.Line, "route %q: query parameter %q: class %q is not mode %s; a lookup finds only a value that seals the same every time", rc.Name, q.Param, q.Class, ModeDeterministic)
		default:
			for _, n := range names {
				if n == q.Param || (!c.caseSensitive && strings.EqualFold(n, q.Param)) {
					c.errorf(q.Line, "route %q: query parameter %q is listed twice", rc.Name, q.Param)
				}
			}
			s.Members = append(s.Members, Field{Path: q.Param, Class: cl})
			names = append(names, q.Param)
			continue
		}
		ok = false
	}
	if !ok {
		return nil
	}
	plan, err := rewrite.CompileSpec(rewrite.Spec{Members: names, CaseSensitive: c.caseSensitive})
	if err != nil {
		c.errorf(rc.Line, "route %q: query parameters: %v", rc.Name, err)
		return nil
	}
	s.Plan = plan
	return s
}
