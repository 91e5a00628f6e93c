package proxy

import (
	"bytes"
	"io"
	"net/http"

	"github.com/fieldseal/fieldseal/transform"
)

// HeaderBody tells a client that the body of a 2xx answer to its write is
// not the transformed one, because the upstream's was larger than
// MaxResponseBytes: "sealed" (the upstream's body, its protected values
// still sealed) or "withheld" (no body: the caller may not read some class
// in plaintext, and the body was not checked for legacy plaintext).
const HeaderBody = "X-Fieldseal-Body"

// Outcomes (metrics and audit) of a write whose large echo was not opened.
const (
	outcomeLeftSealed = "response_left_sealed"
	outcomeWithheld   = "response_withheld"
)

// isWrite reports whether method is not safe (RFC 9110 section 9.2.1):
// the request may have changed state at the origin.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// largeResponse handles a 2xx response too large to transform. A read
// fails with cause (502, naming the limit): a partial or sealed document
// would be a wrong result. A write the application accepted must not be
// reported as failed because its echo is large, so its status and headers
// are forwarded, and its body
//
//   - to a caller who decrypts every class, as it came, its protected
//     values still sealed (ciphertext is what such a caller may have
//     anyway, and legacy plaintext is what it may read): read is the
//     decoded part already read (the body then goes on decoded, without
//     Content-Encoding), nil when nothing was read (the upstream's bytes
//     and headers are kept as they are);
//   - to any other caller, not at all: its legacy plaintext was never
//     checked, and must not reach a caller who may not read it.
//
// rest is the decoded rest of the body when read is not nil.
func (p *Proxy) largeResponse(resp *http.Response, t *transform.Transform, read []byte, rest io.Reader, cause error) error {
	rs := stateFrom(resp.Request.Context())
	if rs == nil || !isWrite(resp.Request.Method) {
		return cause
	}
	ev := p.log.Warn().Str("request_id", rs.id).Str("route", rs.route.Name).Int("status", resp.StatusCode)
	if !t.OpensOnly() {
		_ = resp.Body.Close()
		resp.Body = http.NoBody
		resp.ContentLength = 0
		resp.TransferEncoding = nil
		resp.Header.Set("Content-Length", "0")
		for _, h := range []string{"Content-Type", "Content-Encoding", "Etag"} {
			resp.Header.Del(h)
		}
		for _, h := range bodyDigestHeaders {
			resp.Header.Del(h)
		}
		resp.Header.Set(HeaderBody, "withheld")
		rs.okOutcome = outcomeWithheld
		ev.Err(cause).Msg("write accepted; its response body is too large to transform and was withheld")
		return nil
	}
	if read != nil {
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(bytes.Clone(read)), rest), resp.Body}
		resp.ContentLength = -1
		resp.Header.Del("Content-Length")
		resp.Header.Del("Content-Encoding")
		for _, h := range bodyDigestHeaders {
			resp.Header.Del(h)
		}
		weakenETag(resp.Header)
	}
	resp.Header.Set(HeaderBody, "sealed")
	rs.okOutcome = outcomeLeftSealed
	ev.Err(cause).Msg("write accepted; its response body is too large to transform and was forwarded sealed")
	return nil
}
