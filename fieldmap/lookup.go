package fieldmap

import (
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/fieldseal/fieldseal/rewrite"
)

// MethodOverrideHeaders are the request headers many frameworks honour in
// place of the request method, so LookupAll reads the method from each of them
// too: a POST tunnelled through GET, or a POST disguised as an unknown
// method, cannot slip past the field map.
var MethodOverrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// RewriteHeaders are request headers some applications route by in place
// of the request's path: Symfony before 2.7.49 and 3.4.14, Zend Framework
// 1 and Drupal 7 on IIS read X-Original-URL and X-Rewrite-URL. LookupAll
// reads the path of each of their values as a path of the request too.
var RewriteHeaders = []string{"X-Original-Url", "X-Rewrite-Url"}

// maxPaths is the number of path readings that fit on the stack: the
// decoded path and the path as sent, each with backslashes read as
// slashes, each of those with and without ";" parameters, each of those
// as sent and cleaned, each of those with and without a format suffix.
// More never drop a reading; they allocate.
const maxPaths = 32

// Found is what LookupAll found for one request.
type Found struct {
	// Routes are the route protecting the request and then every other
	// route that a reading of its method, override headers, _method query
	// parameters or path reaches, each once; empty when no route lists
	// the request.
	Routes []*Route
	// ByBody are the other routes at the request's path that only a
	// _method member of a POST's body would reach (Rack, Laravel, Symfony
	// and Spring read it there), each once and none in Routes. Once the
	// body is read, LookupMethod gives the route its _method names.
	ByBody []*Route
}

// LookupAll appends to f what protects a request. It is the one place that
// decides which routes protect a request: the proxy calls it with the
// request's method, its decoded URL path (url.URL.Path), its path as sent
// (url.URL.EscapedPath; "" or the same string when nothing was escaped),
// its raw query and header (every field line of a header by name, like
// http.Header.Values).
//
// Applications read methods and paths in ways the field map may not; to
// fail closed, routes are looked up under every reading of the request
// (see methodReadings and paths, and the paths of RewriteHeaders). The
// first that matches protects the
// request (f.Routes[0]), and since the application may take the request
// under any other reading, the proxy seals it under every other route in
// f.Routes too. No reading is dropped, however many override values a
// request carries: a value that names no configured method cannot match
// and is skipped, so the readings are at most the map's methods.
// LookupAll does not allocate when f's slices have room, for a request
// with no override and no rewrite header, a clean path with no ';' or
// '\', and a query with no escaped _method parameter.
func (m *Map) LookupAll(f *Found, method, urlPath, escapedPath, rawQuery string, header func(name string) []string) {
	var mbuf [8]string
	var pbuf [maxPaths]string
	ps := requestPaths(pbuf[:0], urlPath, escapedPath, header)
	readings, explicit := m.methodReadings(mbuf[:0], method, rawQuery, header)
	for i, meth := range readings {
		for _, p := range ps {
			route := m.Match(meth, p)
			switch {
			case route == nil, slices.Contains(f.Routes, route), slices.Contains(f.ByBody, route):
			case len(f.Routes) == 0, i < explicit:
				f.Routes = append(f.Routes, route)
			default:
				f.ByBody = append(f.ByBody, route)
			}
		}
	}
}

// Method returns the method of the map (upper-case ASCII) an application
// reads v as, and whether there is one: white space around v trimmed,
// compared case-insensitively (sameMethod), HEAD read as GET. It is the
// one reading of a _method body member (LookupMethod).
func (m *Map) Method(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "HEAD") {
		v = "GET"
	}
	for _, known := range m.methods {
		if sameMethod(v, known) {
			return known, true
		}
	}
	return "", false
}

// LookupMethod appends to dst every route a request reaches, each once and
// not already in dst, when an application reads its method as method (a
// _method member of its body), read as Method reads it, under every
// reading of its path, the paths of RewriteHeaders included (see
// LookupAll for the arguments).
func (m *Map) LookupMethod(dst []*Route, method, urlPath, escapedPath string, header func(name string) []string) []*Route {
	known, ok := m.Method(method)
	if !ok {
		return dst
	}
	var pbuf [maxPaths]string
	for _, p := range requestPaths(pbuf[:0], urlPath, escapedPath, header) {
		if route := m.Match(known, p); route != nil && !slices.Contains(dst, route) {
			dst = append(dst, route)
		}
	}
	return dst
}

// requestPaths appends the readings of a request's path (paths) and of the
// paths of its RewriteHeaders (rewritePaths).
func requestPaths(dst []string, urlPath, escapedPath string, header func(name string) []string) []string {
	dst = paths(dst, urlPath, escapedPath)
	for _, h := range RewriteHeaders {
		for _, v := range header(h) {
			dst = rewritePaths(dst, v)
		}
	}
	return dst
}

// methodReadings appends the configured methods an application may read a
// request under, the ones it is most likely to use first: every value of
// every line of every method override header (MethodOverrideHeaders;
// Express's method-override takes the first of a comma-separated list,
// PHP behind nginx keeps the last of two lines, so each is a reading),
// every _method query parameter (methodOverride('_method'), Laravel; see
// MethodParams), the method itself, GET for HEAD (net/http, Express and
// servlet containers answer HEAD with their GET handler): the first
// explicit readings; and, last, for a POST every other method of the map
// (a _method member of its body, which overrides a POST in Rack and
// Laravel and is not read yet). Methods are compared case-insensitively,
// with surrounding white space trimmed. A reading that names no method of
// the map cannot match a route and is left out, which bounds the readings
// by m.methods whatever the request carries.
func (m *Map) methodReadings(dst []string, method, rawQuery string, header func(string) []string) (readings []string, explicit int) {
	head := false
	add := func(v string) {
		v = strings.TrimSpace(v)
		if strings.EqualFold(v, "HEAD") {
			head = true
		}
		for _, known := range m.methods {
			if sameMethod(v, known) {
				if !slices.Contains(dst, known) {
					dst = append(dst, known)
				}
				return
			}
		}
	}
	for _, h := range MethodOverrideHeaders {
		for _, line := range header(h) {
			for line != "" {
				var v string
				v, line, _ = strings.Cut(line, ",")
				add(v)
			}
		}
	}
	MethodParams(rawQuery, add)
	add(method)
	if head {
		add("GET")
	}
	explicit = len(dst)
	if strings.EqualFold(strings.TrimSpace(method), "POST") {
		// Rack, Laravel and Symfony also take a POST's method from a
		// _method member of its body, not read yet: the methods HTML
		// forms tunnel first, then every other.
		for _, v := range bodyOverrides {
			add(v)
		}
		for _, known := range m.methods {
			add(known)
		}
	}
	return dst, explicit
}

// sameMethod reports whether an application reads v as the method known
// (upper-case ASCII): compared case-insensitively under Unicode simple
// folding, with the dotless ı read as i too, since Ruby's upcase makes
// "lınk" LINK (rewrite.EqualFold).
func sameMethod(v, known string) bool {
	return rewrite.EqualFold(v, known)
}

// bodyOverrides are the methods a POST is most often tunnelled as by a
// _method member of its body (Rails' and Laravel's forms).
var bodyOverrides = [...]string{"PUT", "PATCH", "DELETE"}

// MethodParams calls add with the value of every _method parameter of a
// raw query or urlencoded form body, as the applications that read it
// parse them: pairs end at
// '&' (and, for Rack and the servlet containers of old, ';'), a pair that
// does not decode leaves the others readable (where url.ParseQuery would
// report an error), a name is read decoded ("%5Fmethod", with '+' a
// space), and PHP's reading of a name applies too (leading spaces
// dropped, '.' and ' ' read as '_', so ".method" is _method). A value
// that does not decode is read as sent.
func MethodParams(rawQuery string, add func(string)) {
	for rawQuery != "" {
		var pair string
		if i := strings.IndexAny(rawQuery, "&;"); i >= 0 {
			pair, rawQuery = rawQuery[:i], rawQuery[i+1:]
		} else {
			pair, rawQuery = rawQuery, ""
		}
		name, value, _ := strings.Cut(pair, "=")
		if !isMethodParam(name) {
			continue
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		add(value)
	}
}

// isMethodParam reports whether a query parameter name as sent reads as
// "_method" once decoded ('+' is a space), in any letter case (ASP.NET
// Core's form collection finds "_METHOD" so), under PHP's reading of names
// too (leading spaces dropped, '.' and ' ' read as '_'), and with the
// brackets of nested names read away ("_method[]" and "[_method]" are
// arrays or keys of _method to qs, whose first element Express's
// method-override takes; Rack 2 drops a stray "]"), and cut at a NUL, as
// PHP cuts names. It does not allocate.
func isMethodParam(name string) bool {
	const want = "_method"
	if len(name) < len(want) {
		return false
	}
	n, leading := 0, true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(name) || !ishex(name[i+1]) || !ishex(name[i+2]) {
				return false
			}
			c = unhex(name[i+1])<<4 | unhex(name[i+2])
			i += 2
		}
		if (c == ' ' || c == '[') && leading {
			continue
		}
		if c == 0 || c == '[' || c == ']' {
			// "_method[]", "_method[0]" (qs, PHP), "[_method]" (qs),
			// "_method]" (Rack 2 drops a stray bracket), "_method\x00x"
			// (PHP cuts a name at NUL): the name ends.
			return n == len(want)
		}
		leading = false
		switch {
		case c == '.' || c == ' ':
			c = '_'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if n >= len(want) || c != want[n] {
			return false
		}
		n++
	}
	return n == len(want)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// paths appends the paths an application may route a request by, most
// literal first:
//
//   - the decoded path (an empty path is "/"), and the path as sent when it
//     differs: a store that keeps "%2F" inside one segment routes
//     "/customers/a%2Fb" to the id "a/b", a router that decodes first sees
//     three segments;
//   - each with '\' (sent as is or as "%5C") read as '/', as IIS and
//     ASP.NET do;
//   - each with ";name=value" parameters removed from every segment, as
//     servlet containers do (";jsessionid=...");
//   - each with dot segments resolved and repeated slashes removed
//     (path.Clean of the rooted path), as routers such as Express do;
//   - each without the format suffix of its last segment (formatStems:
//     "/customers.json" is "/customers" to Rails and older Spring MVC).
//
// Trailing and repeated slashes and letter case need no reading of their
// own: Match already ignores them. The readings are derived from, and
// deduplicated against, only the ones this call appends: the readings
// already in dst (those of another X-Original-URL line) are not read
// again, so n lines cost n times one line, not n cubed.
func paths(dst []string, urlPath, escapedPath string) []string {
	if urlPath == "" {
		urlPath = "/"
	}
	start := len(dst)
	add := func(p string) {
		for _, have := range dst[start:] {
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
	for _, p := range dst[start:] {
		if strings.IndexByte(p, '\\') >= 0 || strings.Contains(p, "%5C") || strings.Contains(p, "%5c") {
			add(backslashSlash.Replace(p))
		}
	}
	for _, p := range dst[start:] {
		if strings.IndexByte(p, ';') >= 0 {
			add(stripParams(p))
		}
	}
	for _, p := range dst[start:] {
		// Clean("/"+p) is Clean(p) for a rooted p, and Clean returns an
		// already clean path without allocating. p may be empty: an
		// X-Original-URL of ";x" has no path left once its parameters go.
		rooted := p
		if rooted == "" || rooted[0] != '/' {
			rooted = "/" + rooted
		}
		add(path.Clean(rooted))
	}
	for _, p := range dst[start:] {
		if last, first, ok := formatStems(p); ok {
			add(last)
			add(first)
		}
	}
	return dst
}

// rewritePaths appends the readings of the path of v, an X-Original-URL or
// X-Rewrite-URL value: as a path (its query and fragment cut off, decoded
// and as sent) and, when it parses as a URL with a host ("http://h/p",
// "//h/p"), as that URL's path, as applications that parse it read it.
func rewritePaths(dst []string, v string) []string {
	raw, _, _ := strings.Cut(v, "?")
	raw, _, _ = strings.Cut(raw, "#")
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		decoded = raw
	}
	dst = paths(dst, decoded, raw)
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		dst = paths(dst, u.Path, u.EscapedPath())
	}
	return dst
}

// formatStems returns p without the format suffix of its last segment,
// read from the segment's last '.' (Rails routes every resource with
// "(.:format)") and from its first (Spring MVC before 5.3 matched
// "/customers.*", dots and all, and nothing: "/customers." is the
// customers route to it): "/a/b.json.bak" gives "/a/b.json" and "/a/b". A
// dot that starts the segment starts no suffix; ok is false when the
// segment has none.
func formatStems(p string) (last, first string, ok bool) {
	start := strings.LastIndexByte(p, '/') + 1
	seg := p[start:]
	l := strings.LastIndexByte(seg, '.')
	if l <= 0 {
		return "", "", false
	}
	f := strings.IndexByte(seg[1:], '.') + 1
	return p[:start+l], p[:start+f], true
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

// backslashSlash reads '\' and its escape "%5C" as '/'.
var backslashSlash = strings.NewReplacer(`\`, "/", "%5C", "/", "%5c", "/")
