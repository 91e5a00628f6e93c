package proxy

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/fieldmap"
)

// responseKind says whether a 2xx response of Content-Type ct is opened on
// route: declared JSON (application/json, +json) always is; a media type
// the route lists in ResponseTypes is read as JSON too (some stores serve
// JSON as text/plain unless the client asks for application/json, and
// curl and browsers send */*); any other type is opened only on a route
// with ResponseSniff, and then only if its body is JSON (sniff).
func responseKind(route *fieldmap.Route, ct string) (open, sniff bool) {
	if isJSON(ct) {
		return true, false
	}
	if len(route.ResponseTypes) > 0 && ct != "" {
		if mt, _, err := parseMediaType(ct); err == nil && slices.Contains(route.ResponseTypes, mt) {
			return true, false
		}
	}
	return route.ResponseSniff, route.ResponseSniff
}

// sniffResponse opens a response whose type does not say JSON when its
// body is a JSON object or array; any other body is forwarded as it came,
// as every response of a type that is not JSON is. A compressed body, or
// one larger than MaxResponseBytes, is not looked into.
//
// For a caller who may not read some class, a body that only may be JSON
// to a client (after a byte order mark, which Jackson skips, or followed by
// trailing data, which json.Decoder ignores) is transformed whole as on
// any other response, and refused when it does not parse: forwarding it
// would hand that caller its legacy plaintext.
func (p *Proxy) sniffResponse(resp *http.Response, rs *reqState) error {
	if !rs.resp.OpensOnly() {
		if !sniffResponseJSON(resp, p.maxResp, &rs.budget) {
			return nil
		}
		return p.openResponse(resp, rs.resp)
	}
	if len(resp.Header.Values("Content-Encoding")) > 0 || resp.ContentLength > p.maxResp {
		return nil
	}
	in := p.bufs.get()
	defer p.bufs.put(in)
	doc, err := readLimited((*in)[:0], resp.Body, p.maxResp, resp.ContentLength, &rs.budget)
	*in = doc[:0]
	if err != nil {
		// Too large, busy or broken: the client gets what came.
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(bytes.Clone(doc)), resp.Body), resp.Body}
		return nil
	}
	_ = resp.Body.Close()
	body := bytes.Clone(doc)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	head := bytes.TrimLeft(body, " \t\r\n")
	if len(head) == 0 || (head[0] != '{' && head[0] != '[') || !gjson.ValidBytes(body) {
		return nil
	}
	resp.ContentLength = int64(len(body))
	return p.openResponse(resp, rs.resp)
}

// parseMediaType is mime.ParseMediaType with a fast path for the common
// Content-Type without parameters already in lower case
// ("application/json"): such a value parses to itself and no parameters,
// so it is returned as it is (params nil, which reads as empty) without the
// map ParseMediaType allocates. Anything else is ParseMediaType's.
func parseMediaType(v string) (mediatype string, params map[string]string, err error) {
	slash := -1
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '+', c == '-':
		case c == '/' && slash < 0 && i > 0:
			slash = i
		default:
			return mime.ParseMediaType(v)
		}
	}
	if slash < 0 || slash == len(v)-1 {
		return mime.ParseMediaType(v)
	}
	return v, nil, nil
}
