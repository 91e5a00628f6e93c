package fieldmap

import (
	"path"
	"strings"
)

// MethodOverrideHeaders are the request headers many frameworks honour in
// place of the request method, so Lookup reads the method from them when
// present (the first one set wins): a POST tunnelled through GET cannot
// slip past the field map.
var MethodOverrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// reading is one way an application may understand a request.
type reading struct {
	method, path string
}

// maxReadings bounds the readings of one request, so that they fit on the
// stack.
const maxReadings = 4

// Lookup returns the route protecting a request, or nil when the request is
// not protected. It is the one place that decides which route protects a
// request: the proxy calls it with the request's method, its decoded URL
// path (http.Request.URL.Path) and header (a lookup of a header's first
// value, like http.Header.Get).
//
// Upstreams normalise methods and paths in ways the field map may not; to
// fail closed, the route is looked up under every reading of the request
// (see readings) and the first that matches protects it. Lookup does not
// allocate for a request whose path is already clean.
func (m *Map) Lookup(method, urlPath string, header func(name string) string) *Route {
	var buf [maxReadings]reading
	for _, r := range readings(buf[:0], method, urlPath, header) {
		if route := m.Match(r.method, r.path); route != nil {
			return route
		}
	}
	return nil
}

// readings appends to dst the (method, path) pairs under which an
// application may route a request, most literal first:
//
//   - the method is compared in upper case, and a method override header
//     (MethodOverrideHeaders) replaces it;
//   - the path as sent (an empty path is "/"), and, when it differs, the
//     path with dot segments resolved and repeated slashes removed
//     (path.Clean of the rooted path), as routers such as Express do.
//
// Trailing and repeated slashes and letter case need no reading of their
// own: Match already ignores them.
func readings(dst []reading, method, urlPath string, header func(name string) string) []reading {
	method = strings.ToUpper(method)
	for _, h := range MethodOverrideHeaders {
		if v := header(h); v != "" {
			method = strings.ToUpper(strings.TrimSpace(v))
			break
		}
	}
	if urlPath == "" {
		urlPath = "/"
	}
	dst = append(dst, reading{method, urlPath})
	// Clean("/"+p) is Clean(p) for a rooted p, and Clean returns an already
	// clean path without allocating: most requests pay one scan here.
	rooted := urlPath
	if rooted[0] != '/' {
		rooted = "/" + rooted
	}
	if clean := path.Clean(rooted); clean != urlPath {
		dst = append(dst, reading{method, clean})
	}
	return dst
}
