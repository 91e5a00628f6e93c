package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestResponseSniffPastLeadingSpace (round 3, adversary 2): a response
// labelled text/plain that is JSON is transformed whole for a caller who
// may not read some class, so its legacy plaintext is masked; the sniff
// reads only the first 512 bytes, so the same JSON after 600 bytes of
// white space reaches the masked caller in plaintext (a client that parses
// it, JSON.parse or encoding/json, skips the white space).
func TestResponseSniffPastLeadingSpace(t *testing.T) {
	iss := newIssuer(t)
	const legacy = `{"id":7,"email":"ada@example.com"}`
	var lead string
	h := callerHarness(t, iss, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(lead + legacy))
	}, nil)
	for _, l := range []string{"", " \n", strings.Repeat(" ", 600), strings.Repeat("\n", 4096)} {
		lead = l
		resp, body := h.do(t, http.MethodGet, "/customers/7", bearer(iss.token(t, "support-app", "support")), nil)
		if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte("ada@example.com")) {
			t.Errorf("%d leading white-space bytes: a masking caller got the legacy plaintext: %.80q", len(l), bytes.TrimSpace(body))
		}
	}
}
