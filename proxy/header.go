package proxy

import (
	"net/http"
	"strings"
)

// Header fields the request and response paths read and write on every
// request. http.Header's Get, Set, Del and Values canonicalize the name on
// every call (textproto.CanonicalMIMEHeaderKey walks and checks it byte by
// byte); with names already canonical the map is read directly, which is
// the same lookup without that walk. TestHeaderNamesAreCanonical keeps
// these names canonical: a name that is not would silently never match.
const (
	hdrAcceptEncoding  = "Accept-Encoding"
	hdrConnection      = "Connection"
	hdrContentEncoding = "Content-Encoding"
	hdrContentLength   = "Content-Length"
	hdrContentType     = "Content-Type"
	hdrETag            = "Etag"
	hdrExpect          = "Expect"
	hdrHTTP2Settings   = "Http2-Settings"
	hdrIfMatch         = "If-Match"
	hdrIfRange         = "If-Range"
	hdrRange           = "Range"
	hdrUpgrade         = "Upgrade"
)

// canonicalHeaders lists every name the proxy reads or writes with the
// helpers below (for TestHeaderNamesAreCanonical).
var canonicalHeaders = append([]string{
	hdrAcceptEncoding, hdrConnection, hdrContentEncoding, hdrContentLength, hdrContentType, hdrETag,
	hdrExpect, hdrHTTP2Settings, hdrIfMatch, hdrIfRange, hdrRange, hdrUpgrade, HeaderRequestID,
}, bodyDigestHeaders...)

// headerGet is h.Get(key) for a canonical key.
func headerGet(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// headerSet is h.Set(key, value) for a canonical key.
func headerSet(h http.Header, key, value string) { h[key] = []string{value} }

// headerLookup looks up every field line of a header by name, like
// h.Values, for fieldmap.Map.LookupAll (its values method): a canonical name
// (the method override headers) is read from the map directly; any other is
// canonicalized as h.Values does. Servers that hand headers to
// applications as CGI variables (Rack, PHP) read X_HTTP_METHOD_OVERRIDE as
// X-HTTP-Method-Override, and PHP its registration of variables reads '.'
// as '_' too (X.HTTP.Method.Override), so the lines of a field whose name
// holds '_' or '.' and reads as the name with those for '-' count too
// (cgiFields). It is a value,
// not a closure, so that the method value passed to LookupAll (which does
// not keep it) stays on the caller's stack.
type headerLookup struct {
	h   http.Header
	cgi bool // a field name of h holds '_' or '.' (hasCGIName)
}

// newHeaderLookup returns the lookup of h's field lines.
func newHeaderLookup(h http.Header) headerLookup {
	return headerLookup{h: h, cgi: hasCGIName(h)}
}

// hasCGIName reports whether a field name of h holds '_' or '.', the only
// case in which headerLookup looks for CGI spellings (cgiFields).
func hasCGIName(h http.Header) bool {
	for k := range h {
		if strings.ContainsAny(k, "_.") {
			return true
		}
	}
	return false
}

// values returns the lines of the field name and, when h has a field name
// with '_' or '.', of its CGI spellings.
func (l headerLookup) values(name string) []string {
	h := l.h
	v, ok := h[name]
	if !ok && !isCanonical(name) {
		v = h.Values(name)
	}
	if !l.cgi {
		return v
	}
	for k := range cgiFields(h, name) {
		// The spellings with '-' only are the ones read above.
		if k != name && strings.ContainsAny(k, "_.") {
			v = append(v[:len(v):len(v)], h[k]...) // never into h's own array
		}
	}
	return v
}

// cgiFields yields the names of the fields of h that a CGI server gives the
// same variable as name: compared case-insensitively with '_', '.' and '-'
// read alike ("X_Original_Url", "X.Original.Url" and "X-Original-Url" are
// all HTTP_X_ORIGINAL_URL).
func cgiFields(h http.Header, name string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for k := range h {
			if len(k) == len(name) && cgiEqual(k, name) && !yield(k) {
				return
			}
		}
	}
}

// cgiEqual reports whether a and b, of one length, name one CGI variable.
func cgiEqual(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == '_' || x == '.' {
			x = '-'
		}
		if y == '_' || y == '.' {
			y = '-'
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// isCanonical reports whether name is already in the form
// textproto.CanonicalMIMEHeaderKey gives it: letters upper case at the start
// and after each '-', lower case elsewhere, every byte a token byte. Any
// other name is left to CanonicalMIMEHeaderKey (false).
func isCanonical(name string) bool {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			if !upper {
				return false
			}
		case 'a' <= c && c <= 'z':
			if upper {
				return false
			}
		case '0' <= c && c <= '9':
		case c == '-':
			upper = true
			continue
		default:
			return false
		}
		upper = false
	}
	return name != ""
}
