package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/rs/zerolog"
)

// A value sealed under another ring (a ring made again, a store restored
// from elsewhere) fails like a tampered one; the operator's log line says
// what to check, the client's body does not.
func TestAForeignSealedValueIsExplainedInTheLogOnly(t *testing.T) {
	var logs bytes.Buffer
	other := testRing(t) // same key ids, different material
	h := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"email":"`+sealFor(t, other, "email", "", `"a@b.c"`)+`"}`)
	}, func(o *Options) { o.Logger = zerolog.New(&logs) })
	resp, body := h.do(t, http.MethodGet, "/customers/7", nil, nil)
	if resp.StatusCode != http.StatusBadGateway || errorCode(t, body) != "open_failed" {
		t.Fatalf("status %d, body %s; want 502 open_failed", resp.StatusCode, body)
	}
	if bytes.Contains(body, []byte("key ring")) || bytes.Contains(body, []byte("master key")) {
		t.Errorf("client body carries the operator's hint: %s", body)
	}
	var found bool
	for line := range bytes.Lines(logs.Bytes()) {
		var m map[string]any
		if json.Unmarshal(line, &m) != nil || m["message"] != "request failed" {
			continue
		}
		found = true
		hint, _ := m["hint"].(string)
		if !bytes.Contains([]byte(hint), []byte("another key ring or master key")) || m["code"] != "open_failed" {
			t.Errorf("request failed line = %v; want a hint naming another key ring or master key", m)
		}
	}
	if !found {
		t.Fatalf("no request failed line in the log:\n%s", logs.Bytes())
	}
}
