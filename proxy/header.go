package proxy

import "net/http"

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

// headerLookup returns a lookup of every field line of a header by name,
// like h.Values, for fieldmap.Map.LookupAll: a canonical name (the method
// override headers) is read from the map directly; any other is
// canonicalized as h.Values does.
func headerLookup(h http.Header) func(name string) []string {
	return func(name string) []string {
		if v, ok := h[name]; ok || isCanonical(name) {
			return v
		}
		return h.Values(name)
	}
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
