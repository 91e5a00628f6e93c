package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestSniffSkipsOnlyJSONWhiteSpace (round 3, adversary 3): a body that
// is not declared JSON is sniffed past RFC 8259 white space only. Parsers
// that an application calls on a body whatever its type read more as white
// space: Json.NET (JsonConvert.DeserializeObject, JObject.Parse) skips any
// char.IsWhiteSpace (form feed, vertical tab, U+00A0, U+2028, U+3000) and
// a byte order mark after white space, and JSON5 (the json5 package) skips
// form feed, vertical tab, U+00A0, U+FEFF, U+2028 and every Unicode space
// separator. On a request no route lists
// (guard.unmatched: seal) or a route with class members but no paths, such
// a body is not sealed: its class members reach the application in
// plaintext.
func TestSniffSkipsOnlyJSONWhiteSpace(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) {
		o.Routes = compileFieldMap(t, "classes:\n  email: { mode: random, keys: [email] }\nroutes: []\n", "members.yaml")
	})
	const doc = `{"email":"ada@example.com"}`
	// Control: the same document after plain white space is sealed.
	if resp, got := h.do(t, http.MethodPost, "/unlisted", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(" \n"+doc)); resp.StatusCode >= 300 {
		t.Fatalf("control: status %d: %s", resp.StatusCode, got)
	}
	if reqs := h.up.requests(); len(reqs) != 1 || bytes.Contains(reqs[0].Body, []byte("ada@example.com")) {
		t.Fatalf("control: the upstream got the plaintext or nothing: %d requests", len(reqs))
	}
	for _, lead := range []string{"\f", "\v", "\u00a0", " \uFEFF", "\u2028", "\u3000"} {
		before := len(h.up.requests())
		resp, _ := h.do(t, http.MethodPost, "/unlisted", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(lead+doc))
		reqs := h.up.requests()
		if len(reqs) > before && bytes.Contains(reqs[len(reqs)-1].Body, []byte("ada@example.com")) {
			t.Errorf("%+q before the document: forwarded with the email in plaintext (status %d)", lead, resp.StatusCode)
		}
	}
}
