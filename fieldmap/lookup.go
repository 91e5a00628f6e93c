package fieldmap

import (
	"net/url"
	"path"
	"strings"
)

// MethodOverrideHeaders are the request headers many frameworks honour in
// place of the request method, so Lookup reads the method from each of them
// too: a POST tunnelled through GET, or a POST disguised as an unknown
// method, cannot slip past the field map.
var MethodOverrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// reading is one way an application may understand a request.
type reading struct {
	method, path string
}

// maxReadings bounds the readings of one request, so that they fit on the
// stack: up to five methods (the request's, three override headers, GET
// for HEAD) times up to six paths.
const maxReadings = 32

// Lookup returns the route protecting a request, or nil when no configured
// route lists it (Unmatched then guards it). It is the one place that
// decides which route protects a request: the proxy calls it with the
// request's method, its decoded URL path (url.URL.Path), its path as sent
// (url.URL.EscapedPath; "" or the same string when nothing was escaped) and
// header (a lookup of a header's first value, like http.Header.Get).
//
// Applications read methods and paths in ways the field map may not; to
// fail closed, the route is looked up under every reading of the request
// (see readings) and the first that matches protects it. Lookup does not
// allocate for a request whose path is clean and has no ';'.
func (m *Map) Lookup(method, urlPath, escapedPath, rawQuery string, header func(name string) string) *Route {
	var mbuf [8]string
	var pbuf [6]string
	for _, meth := range methods(mbuf[:0], method, rawQuery, header) {
		for _, p := range paths(pbuf[:0], urlPath, escapedPath) {
			if route := m.Match(meth, p); route != nil {
				return route
			}
		}
	}
	return nil
}

// methods appends the methods an application may read a request under,
// the ones it is most likely to use first: every method override header's
// value (MethodOverrideHeaders; Express's method-override takes the first of
// a comma-separated list, so each is a reading), the _method query
// parameter (method-override's query getter, Rails, Laravel), the method
// itself, and GET for HEAD (net/http, Express and servlet containers answer
// HEAD with their GET handler). Methods are compared in upper case.
func methods(dst []string, method, rawQuery string, header func(string) string) []string {
	add := func(m string) {
		m = strings.ToUpper(strings.TrimSpace(m))
		for _, have := range dst {
			if have == m {
				return
			}
		}
		dst = append(dst, m)
	}
	for _, h := range MethodOverrideHeaders {
		if v := header(h); v != "" {
			for _, m := range strings.Split(v, ",") {
				if len(dst) < cap(dst)-2 {
					add(m)
				}
			}
		}
	}
	if strings.Contains(rawQuery, "_method=") {
		if q, err := url.ParseQuery(rawQuery); err == nil {
			for _, m := range q["_method"] {
				if len(dst) < cap(dst)-2 {
					add(m)
				}
			}
		}
	}
	add(method)
	for _, m := range dst {
		if m == "HEAD" {
			add("GET")
			break
		}
	}
	return dst
}

// paths appends the paths an application may route a request by, most
// literal first:
//
//   - the decoded path (an empty path is "/"), and the path as sent when it
//     differs: a store that keeps "%2F" inside one segment routes
//     "/customers/a%2Fb" to the id "a/b", a router that decodes first sees
//     three segments;
//   - each with ";name=value" parameters removed from every segment, as
//     servlet containers do (";jsessionid=...");
//   - each with dot segments resolved and repeated slashes removed
//     (path.Clean of the rooted path), as routers such as Express do.
//
// Trailing and repeated slashes and letter case need no reading of their
// own: Match already ignores them.
func paths(dst []string, urlPath, escapedPath string) []string {
	if urlPath == "" {
		urlPath = "/"
	}
	add := func(p string) {
		for _, have := range dst {
			if have == p {
				return
			}
		}
		dst = append(dst, p)
	}
	add(urlPath)
	if escapedPath != "" {
		add(escapedPath)
	}
	for _, p := range dst {
		if strings.IndexByte(p, ';') >= 0 {
			add(stripParams(p))
		}
	}
	for _, p := range dst {
		// Clean("/"+p) is Clean(p) for a rooted p, and Clean returns an
		// already clean path without allocating.
		rooted := p
		if rooted[0] != '/' {
			rooted = "/" + rooted
		}
		add(path.Clean(rooted))
	}
	return dst
}

// stripParams removes the ";..." parameters of every segment of p.
func stripParams(p string) string {
	var b strings.Builder
	for i, seg := range strings.Split(p, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		seg, _, _ = strings.Cut(seg, ";")
		b.WriteString(seg)
	}
	return b.String()
}
