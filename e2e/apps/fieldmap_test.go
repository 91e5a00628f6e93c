package appse2e_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// route is one route of a field map built by fieldMap: its request and
// response name where the map's one class stands in the bodies.
type route struct {
	name    string
	methods string // the contents of the YAML list: "GET, PUT"
	paths   string // likewise: `/customers, "/customers/{id}"`
	// request and response are the gjson paths of the class in request
	// and response bodies, as the contents of a YAML list of paths
	// ("email", `"#.email", email`); "" leaves the side out.
	request, response string
	// extra are further lines of the route, each "    key: value\n".
	extra string
}

// fieldMap is the YAML of a field map with one class, named class, of the
// given settings ("{mode: random}"), and the routes in their order.
func fieldMap(class, settings string, routes ...route) string {
	var b strings.Builder
	fmt.Fprintf(&b, "classes:\n  %s: %s\nroutes:\n", class, settings)
	for _, r := range routes {
		fmt.Fprintf(&b, "  - name: %s\n    methods: [%s]\n    paths: [%s]\n", r.name, r.methods, r.paths)
		for _, side := range []struct{ key, paths string }{{"request", r.request}, {"response", r.response}} {
			if side.paths == "" {
				continue
			}
			var entries []string
			for p := range strings.SplitSeq(side.paths, ", ") {
				entries = append(entries, fmt.Sprintf("{path: %s, class: %s}", p, class))
			}
			fmt.Fprintf(&b, "    %s: [%s]\n", side.key, strings.Join(entries, ", "))
		}
		b.WriteString(r.extra)
	}
	return b.String()
}

// emailMap is fieldMap of the class email in the random mode.
func emailMap(routes ...route) string { return fieldMap("email", "{mode: random}", routes...) }

// start runs the binary in front of upstream with the field map (and any
// other sections) given.
func start(t *testing.T, upstream, fieldMap string) *sidecartest.Sidecar {
	t.Helper()
	return sidecartest.Start(t, fieldsealBin, sidecartest.Config{Upstream: upstream, FieldMap: fieldMap})
}
