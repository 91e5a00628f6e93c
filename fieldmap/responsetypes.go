package fieldmap

import (
	"mime"
	"strings"
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
