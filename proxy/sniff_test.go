package proxy

import (
	"bytes"
	"net/http"
	"strings"
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
		{"600 spaces, past the first look", "", strings.Repeat(" ", 600)},
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
	body := strings.Repeat(" ", 20<<10) + `{"email":"ada@example.com"}`
	resp, got := h.do(t, http.MethodPost, "/customers", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(body))
	if resp.StatusCode != 503 {
		t.Errorf("status %d: %s", resp.StatusCode, got)
	}
	if reqs := h.up.requests(); len(reqs) != 0 {
		t.Errorf("upstream got %d requests", len(reqs))
	}
}

// TestRouteSniffTransformsWhatMayBeJSONForAMaskedCaller: on a route that
// sniffs its responses, a body that may be JSON to a client (a byte order
// mark, which Jackson skips; trailing data, which json.Decoder ignores) is
// transformed whole for a caller who may not read some class, or refused;
// its legacy plaintext never reaches that caller.
func TestRouteSniffTransformsWhatMayBeJSONForAMaskedCaller(t *testing.T) {
	iss := newIssuer(t)
	const legacy = `{"id":7,"email":"ada@example.com"}`
	var body string
	h := callerHarness(t, iss, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(body))
	}, nil, func(o *Options) {
		o.Routes = compileFieldMap(t, testFieldMap+`
  - name: sniffed
    methods: [GET]
    paths: ["/sniffed/{id}"]
    response_sniff: true
    response:
      - { path: email, class: email }
`, "sniffed.yaml")
	})
	for _, b := range []string{legacy, "\xEF\xBB\xBF" + legacy, strings.Repeat(" ", 700) + legacy, legacy + " trailing"} {
		body = b
		resp, got := h.do(t, http.MethodGet, "/sniffed/7", bearer(iss.token(t, "support-app", "support")), nil)
		if bytes.Contains(got, []byte("ada@example.com")) {
			t.Errorf("%.20q: a masking caller got the legacy plaintext (status %d): %.80q", b, resp.StatusCode, bytes.TrimSpace(got))
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
