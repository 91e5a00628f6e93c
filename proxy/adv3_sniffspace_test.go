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

// TestResponseSniffSkipsOnlyJSONWhiteSpace (round 3, adversary 3): the
// response side of TestSniffSkipsOnlyJSONWhiteSpace. A response labelled
// text/plain holding legacy plaintext is transformed for a caller who may
// not read a class when it starts like JSON; after a form feed or U+00A0
// it is passed as it is, and a client reading it with Json.NET or JSON5
// gets the plaintext the caller may only see masked.
func TestResponseSniffSkipsOnlyJSONWhiteSpace(t *testing.T) {
	iss := newIssuer(t)
	const legacy = `{"id":7,"email":"ada@example.com"}`
	var lead string
	h := callerHarness(t, iss, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(lead + legacy))
	}, nil)
	for _, l := range []string{" ", "\f", "\v", "\u00a0", "\u3000"} {
		lead = l
		resp, body := h.do(t, http.MethodGet, "/customers/7", bearer(iss.token(t, "support-app", "support")), nil)
		if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte("ada@example.com")) {
			t.Errorf("%+q before the document: a masking caller got the legacy plaintext", l)
		}
	}
}
