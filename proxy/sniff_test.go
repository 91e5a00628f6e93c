package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSniffSkipsAnyLeadingWhiteSpace: a body not declared JSON is read the
// way encoding/json's Decoder, JSON.parse and Jackson read it, past any
// amount of white space (and a UTF-8 byte order mark), not only the first
// bytes a sniff buffers: the route's fields reach the upstream sealed.
func TestSniffSkipsAnyLeadingWhiteSpace(t *testing.T) {
	const doc = `{"email":"ada@example.com"}`
	tests := []struct{ name, ct, lead string }{
		{"a few spaces", "text/plain", "  "},
		{"600 spaces, past the first look", "application/x-ndjson", strings.Repeat(" ", 600)},
		{"CR LF pairs across several reads", "text/plain", strings.Repeat("\r\n", 3000)},
		{"a byte order mark and 1024 tabs", "application/octet-stream", "\xEF\xBB\xBF" + strings.Repeat("\t", 1024)},
		{"mixed white space ending exactly at a read boundary", "text/plain", strings.Repeat(" \t\n\r", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, serve(200, "text/plain", "fine"), nil)
			header := http.Header{}
			if tt.ct != "" {
				header.Set("Content-Type", tt.ct)
			}
			resp, got := h.do(t, http.MethodPost, "/customers", header, strings.NewReader(tt.lead+doc))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			reqs := h.up.requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs))
			}
			if bytes.Contains(reqs[0].Body, []byte("ada@example.com")) || !bytes.Contains(reqs[0].Body, []byte(`"email":"fs1:`)) {
				t.Errorf("upstream got the email unsealed: %.100q", bytes.TrimSpace(reqs[0].Body))
			}
		})
	}
}

// TestSniffForwardsWhatIsNotJSONByteForByte: white space alone, or white
// space before something that is not JSON, is not JSON: it reaches the
// upstream exactly as sent, however long the white space.
func TestSniffForwardsWhatIsNotJSONByteForByte(t *testing.T) {
	for _, body := range []string{
		strings.Repeat(" ", 2000),
		"\xEF\xBB\xBF" + strings.Repeat("\n", 1500),
		strings.Repeat("\r\n", 700) + "email ada@example.com, not JSON",
		strings.Repeat(" ", 511) + "x",
	} {
		h := newHarness(t, serve(200, "text/plain", "fine"), nil)
		resp, got := h.do(t, http.MethodPost, "/not-protected", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(body))
		if resp.StatusCode != 200 {
			t.Fatalf("%d bytes: status %d: %s", len(body), resp.StatusCode, got)
		}
		if reqs := h.up.requests(); len(reqs) != 1 || string(reqs[0].Body) != body {
			t.Errorf("%d bytes: upstream did not get the body as sent", len(body))
		}
	}
}

// TestSniffRefusesWhiteSpaceBeyondTheBodyLimit: leading white space is
// held to be looked past, but no more of it than a body may have; JSON
// after more white space than that is refused for its size, unforwarded.
func TestSniffRefusesWhiteSpaceBeyondTheBodyLimit(t *testing.T) {
	h := newHarness(t, serve(200, "text/plain", "fine"), nil)
	body := strings.Repeat(" ", 80<<10) + `{"email":"ada@example.com"}`
	resp, got := h.do(t, http.MethodPost, "/customers", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(body))
	if resp.StatusCode != 413 || errorCode(t, got) != "body_too_large" {
		t.Errorf("status %d: %s", resp.StatusCode, got)
	}
	if reqs := h.up.requests(); len(reqs) != 0 {
		t.Errorf("upstream got %d requests", len(reqs))
	}
}

// TestSniffHoldsWhiteSpaceInTheBudget: the white space a sniff holds is
// charged to the buffered-bytes budget, so a body of more white space than
// the budget gets 503 and is not forwarded.
func TestSniffHoldsWhiteSpaceInTheBudget(t *testing.T) {
	h := newHarness(t, serve(200, "text/plain", "fine"), func(o *Options) { o.MaxBufferedBytes = 8 << 10 })
	wantOverBudget(t, h, "20 KiB of white space under an 8 KiB budget")
}

// TestSniffCountsHeldWhiteSpaceOnce (round 3, adversary 3): the white
// space a sniff holds is charged to the buffered-bytes budget, and the body
// buffer that reads the replayed body is charged by its capacity; but both
// are charged to the same held count as absolute sizes (held.grow), so the
// white space, still held by the replay reader, is not counted again while
// the body buffer copies it. 20 KiB of white space before a small JSON
// document holds over 40 KiB (the white space twice) under a 32 KiB budget,
// which limits.max_buffered_bytes promises to answer with 503; the request
// is forwarded instead. Many such requests at once hold about twice the
// budget (more with append's growth of the white-space slice).
func TestSniffCountsHeldWhiteSpaceOnce(t *testing.T) {
	h := newHarness(t, serve(200, "text/plain", "fine"), func(o *Options) { o.MaxBufferedBytes = 32 << 10 })
	// Control: the same bytes with the white space inside the document
	// fit the budget.
	inside := `{"email":"ada@example.com",` + strings.Repeat(" ", 20<<10) + `"n":1}`
	if resp, got := h.do(t, http.MethodPost, "/customers", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(inside)); resp.StatusCode != 200 {
		t.Fatalf("control: status %d: %.80q", resp.StatusCode, got)
	}
	wantOverBudget(t, h, "a request holding its 20 KiB of white space twice under a 32 KiB budget")
}

// wantOverBudget posts 20 KiB of white space before a small JSON document,
// labelled text/plain, and fails the test unless h answers 503 without
// forwarding it: the white space the sniff holds is over h's
// buffered-bytes budget. what names the case in the failure.
func wantOverBudget(t *testing.T, h *harness, what string) {
	t.Helper()
	before := len(h.up.requests())
	body := strings.Repeat(" ", 20<<10) + `{"email":"ada@example.com"}`
	resp, got := h.do(t, http.MethodPost, "/customers", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(body))
	if resp.StatusCode != 503 {
		t.Errorf("%s: status %d, want 503: %.60q", what, resp.StatusCode, got)
	}
	if reqs := h.up.requests(); len(reqs) != before {
		t.Errorf("%s: upstream got %d more requests", what, len(reqs)-before)
	}
}

// TestRouteSniffTransformsWhatMayBeJSONForAMaskedCaller: on a route that
// sniffs its responses, a body that may be JSON to a client (a byte order
// mark, which Jackson skips; trailing data, which json.Decoder ignores) is
// transformed whole for a caller who may not read some class, or refused;
// its legacy plaintext never reaches that caller.
func TestRouteSniffTransformsWhatMayBeJSONForAMaskedCaller(t *testing.T) {
	wantMaskedReads(t, "/sniffed/7", []string{legacyDoc, "\xEF\xBB\xBF" + legacyDoc, strings.Repeat(" ", 700) + legacyDoc, legacyDoc + " trailing"},
		func(o *Options) {
			o.Routes = compileFieldMap(t, testFieldMap+`
  - name: sniffed
    methods: [GET]
    paths: ["/sniffed/{id}"]
    response_sniff: true
    response:
      - { path: email, class: email }
`, "sniffed.yaml")
		})
}

// TestResponseSniffPastLeadingSpace (round 3, adversary 2): a response
// labelled text/plain that is JSON is transformed whole for a caller who
// may not read some class, so its legacy plaintext is masked; the sniff
// reads only the first 512 bytes, so the same JSON after 600 bytes of
// white space reaches the masked caller in plaintext (a client that parses
// it, JSON.parse or encoding/json, skips the white space).
func TestResponseSniffPastLeadingSpace(t *testing.T) {
	wantMaskedReads(t, "/customers/7", leadBy(legacyDoc, "", " \n", strings.Repeat(" ", 600), strings.Repeat("\n", 4096)))
}

// TestResponseSniffSkipsOnlyJSONWhiteSpace (round 3, adversary 3): the
// response side of TestSniffSkipsOnlyJSONWhiteSpace. A response labelled
// text/plain holding legacy plaintext is transformed for a caller who may
// not read a class when it starts like JSON; after a form feed or U+00A0
// it is passed as it is, and a client reading it with Json.NET or JSON5
// gets the plaintext the caller may only see masked.
func TestResponseSniffSkipsOnlyJSONWhiteSpace(t *testing.T) {
	wantMaskedReads(t, "/customers/7", leadBy(legacyDoc, " ", "\f", "\v", "\u00a0", "\u3000"))
}

// legacyDoc is a stored document written before fieldseal: its e-mail is
// plaintext.
const legacyDoc = `{"id":7,"email":"ada@example.com"}`

// leadBy returns doc after each of leads.
func leadBy(doc string, leads ...string) []string {
	bodies := make([]string, len(leads))
	for i, l := range leads {
		bodies[i] = l + doc
	}
	return bodies
}

// wantMaskedReads has the upstream answer a read of path with each of
// bodies in turn, labelled text/plain, and fails the test for every body
// whose plaintext e-mail reaches a caller who may see e-mails only masked
// (support-app), whatever the status of the answer.
func wantMaskedReads(t *testing.T, path string, bodies []string, more ...func(*Options)) {
	t.Helper()
	iss := newIssuer(t)
	var body atomic.Pointer[string]
	h := callerHarness(t, iss, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, *body.Load())
	}, nil, more...)
	for _, b := range bodies {
		body.Store(&b)
		resp, got := h.do(t, http.MethodGet, path, bearer(iss.token(t, "support-app", "support")), nil)
		if bytes.Contains(got, []byte("ada@example.com")) {
			t.Errorf("%.20q (%d bytes): a masking caller got the legacy plaintext (status %d): %.80q", b, len(b), resp.StatusCode, bytes.TrimSpace(got))
		}
	}
}

// TestSniffHoldsUnicodeWhiteSpaceCutByItsReads: Unicode white space that
// lenient parsers skip (here U+3000, three bytes) makes a body start like
// JSON even when every read of the sniff ends inside such a character; the
// body is then parsed strictly and refused, never forwarded with its email
// in plaintext, and every byte held counts against the budget.
func TestSniffHoldsUnicodeWhiteSpaceCutByItsReads(t *testing.T) {
	lead := strings.Repeat(" ", sniffSize-1) + strings.Repeat("\u3000"+strings.Repeat(" ", sniffSize-4), 40)
	h := newHarness(t, serve(200, "text/plain", "fine"), nil)
	header := http.Header{"Content-Type": {"text/plain"}}
	resp, got := h.do(t, http.MethodPost, "/customers", header, strings.NewReader(lead+`{"email":"ada@example.com"}`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400: %.200s", resp.StatusCode, got)
	}
	for _, r := range h.up.requests() {
		if bytes.Contains(r.Body, []byte("ada@example.com")) {
			t.Fatalf("upstream got the email unsealed")
		}
	}
}

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

// TestPostWithoutContentTypeIsAForm: Rack parses a POST body with no
// Content-Type as an urlencoded form, so a route whose request fields are
// JSON paths refuses it (415 naming the route), as it refuses a declared
// form, even when it starts like JSON. (The guard's end-to-end tests check
// that one no route lists has its class members sealed.)
func TestPostWithoutContentTypeIsAForm(t *testing.T) {
	h := newHarness(t, serve(200, "text/plain", "fine"), nil)
	for _, body := range []string{`{"email":"ada@example.com"}`, "email=ada%40example.com"} {
		resp, got := h.do(t, http.MethodPost, "/customers", http.Header{}, strings.NewReader(body))
		if resp.StatusCode != http.StatusUnsupportedMediaType || !bytes.Contains(got, []byte(`route \"customers-write\" seals JSON paths`)) {
			t.Errorf("POST /customers %s with no Content-Type: %d %s, want 415 naming the route", body, resp.StatusCode, got)
		}
	}
	if n := len(h.up.requests()); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
}
