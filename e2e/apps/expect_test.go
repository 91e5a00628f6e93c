package appse2e_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// Issue 16 item 8: a client's Expect: 100-continue on a protected write was
// forwarded with the body the proxy had already read, so the transport
// held the body back for the upstream's 100 Continue: a second per request
// on upstreams that ignore the expectation, and a refusal on those that
// answer 417 (as lighttpd did). A body the proxy buffered goes without it.
func TestExpectContinueIsNotForwardedWithABufferedBody(t *testing.T) {
	ws := newWebServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Expect") != "" {
			w.WriteHeader(http.StatusExpectationFailed)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	})
	sc := start(t, ws.URL(), emailMap(route{name: "customers", methods: "POST", paths: "/customers", request: "email", response: "email"}))
	for _, tc := range []struct{ name, path, body string }{
		{"on a route", "/customers", `{"email":"ada@example.com"}`},
		{"on no route, with a class member", "/other", `{"email":"ada@example.com"}`},
		{"on no route, with nothing to seal", "/other", `{"note":"hello"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: tc.path, JSON: tc.body,
				Header: map[string]string{"Expect": "100-continue"}})
			if resp.Status != http.StatusCreated {
				t.Fatalf("POST: %d %s, want 201", resp.Status, resp.Body)
			}
			if h := ws.lastHeader(); h.Get("Expect") != "" {
				t.Fatalf("the upstream received Expect: %q", h.Get("Expect"))
			}
			if strings.Contains(tc.body, "ada@") && !strings.Contains(string(resp.Body), "ada@example.com") {
				t.Fatalf("echo not opened: %s", resp.Body)
			}
		})
	}
}
