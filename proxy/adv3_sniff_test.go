package proxy

import (
	"net/http"
	"strings"
	"testing"
)

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
	before := len(h.up.requests())
	body := strings.Repeat(" ", 20<<10) + `{"email":"ada@example.com"}`
	resp, got := h.do(t, http.MethodPost, "/customers", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(body))
	if resp.StatusCode != 503 {
		t.Errorf("status %d (%.60q): a request holding its 20 KiB of white space twice passed a 32 KiB budget", resp.StatusCode, got)
	}
	if reqs := h.up.requests(); len(reqs) != before {
		t.Errorf("upstream got %d more requests", len(reqs)-before)
	}
}
