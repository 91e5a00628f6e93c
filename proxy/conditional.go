package proxy

import (
	"net/http"
	"strings"
)

// Conditional requests through a proxy that changes response bytes.
//
// A transformed response differs from the upstream's representation (and
// between callers), so its ETag is made weak (RFC 9110 section 8.8.1):
// W/"x" for the upstream's "x". If-None-Match uses the weak comparison, so
// caches keep working unchanged. If-Match uses the strong comparison (RFC
// 9110 section 13.1.1), under which a weak tag never matches: a client
// that read W/"x" and writes with If-Match: W/"x" would always get 412.
// strongIfMatch turns such entries back into "x" for the upstream. That
// cannot match a state it should not: W/"x" and "x" already match each
// other under the weak comparison, so an origin cannot give them to two
// different states of a resource.

// strongIfMatch rewrites every weak entity tag in If-Match to its strong
// form; "*" and strong tags are kept as they are.
func strongIfMatch(h http.Header) {
	values := h[hdrIfMatch]
	if len(values) == 0 {
		return
	}
	var b strings.Builder
	changed := false
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			if strong, ok := strings.CutPrefix(e, "W/"); ok {
				e, changed = strong, true
			}
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e)
		}
	}
	if changed {
		headerSet(h, hdrIfMatch, b.String())
	}
}

// weakenETag makes a strong ETag weak, the validator of a representation
// whose bytes the proxy may have changed.
func weakenETag(h http.Header) {
	if et := headerGet(h, hdrETag); et != "" && !strings.HasPrefix(et, "W/") {
		headerSet(h, hdrETag, "W/"+et)
	}
}
