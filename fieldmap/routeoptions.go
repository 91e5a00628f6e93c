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

// QueryFilter is a filter-expression query parameter of a route: in the
// value of Param, comparisons of Member with a quoted literal are sealed
// under Class.
type QueryFilter struct {
	Param, Member string
	Class         *Class
}

// query compiles a route's protected query parameters: the side of those
// sealed whole (nil for none), and the filter parameters with the side that
// seals their literals (nil for none). Every class must be deterministic: a
// random seal of a parameter would never equal the value the application
// stored.
func (c *compiler) query(rc RouteSpec, classes map[string]*Class) (*Side, []QueryFilter, *Side) {
	var (
		plain, filterSide = &Side{Classes: c.all}, &Side{Classes: c.all}
		names, members    []string
		filters           []QueryFilter
		ok                = true
	)
	same := func(a, b string) bool { return a == b || (!c.caseSensitive && strings.EqualFold(a, b)) }
	for _, q := range rc.Query {
		cl, found := classes[q.Class]
		switch {
		case q.Param == "":
			c.errorf(q.Line, "route %q: a query parameter has no param name", rc.Name)
		case !found:
			c.errorf(q.Line, "route %q: query parameter %q: unknown class %q (classes are: %s)", rc.Name, q.Param, q.Class, classList(classes))
		case !cl.Deterministic:
			c.errorf(q.Line, "route %q: query parameter %q: class %q is not mode %s; a lookup finds only a value that seals the same every time", rc.Name, q.Param, q.Class, ModeDeterministic)
		case q.Member != "":
			known := false
			for _, m := range filterSide.Members {
				if same(m.Path, q.Member) {
					known = true
					if m.Class != cl {
						c.errorf(q.Line, "route %q: filter member %q has class %q and %q", rc.Name, q.Member, m.Class.Name, cl.Name)
					}
				}
			}
			if !known {
				filterSide.Members = append(filterSide.Members, Field{Path: q.Member, Class: cl})
				members = append(members, q.Member)
			}
			filters = append(filters, QueryFilter{Param: q.Param, Member: q.Member, Class: cl})
			continue
		default:
			for _, n := range names {
				if same(n, q.Param) {
					c.errorf(q.Line, "route %q: query parameter %q is listed twice", rc.Name, q.Param)
				}
			}
			plain.Members = append(plain.Members, Field{Path: q.Param, Class: cl})
			names = append(names, q.Param)
			continue
		}
		ok = false
	}
	if !ok {
		return nil, nil, nil
	}
	compile := func(s *Side, names []string) *Side {
		if len(names) == 0 {
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
	return compile(plain, names), filters, compile(filterSide, members)
}
