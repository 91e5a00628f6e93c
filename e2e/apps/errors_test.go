package appse2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// Issue 16 item 11: clients parse their application's error shape; the
// operator chooses the shape of fieldseal's own errors, keeping the status,
// the code and the request id.
func TestErrorBodyShapes(t *testing.T) {
	routes := emailMap(route{name: "customers", methods: "POST", paths: "/customers", request: "email"})
	tests := []struct {
		name, section, contentType string
		code, requestID            func(body map[string]any) any
	}{
		{"RFC 9457 problem details", "errors: {format: problem}\n", "application/problem+json",
			func(b map[string]any) any { return b["code"] }, func(b map[string]any) any { return b["request_id"] }},
		{"an operator's template", "errors:\n  format: template\n  template: '{\"fault\":{\"name\":{{json .Code}},\"status\":{{.Status}},\"trace\":{{json .RequestID}}}}'\n",
			"application/json; charset=utf-8",
			func(b map[string]any) any { return b["fault"].(map[string]any)["name"] },
			func(b map[string]any) any { return b["fault"].(map[string]any)["trace"] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := sidecartest.NewStore(t, sidecartest.GoJSON)
			sc := start(t, store.URL(), routes+tt.section)
			resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", Body: []byte(`{"email":"ada@example.com"`),
				Header: map[string]string{"Content-Type": "application/json", "X-Request-ID": "trace-4711"}})
			if resp.Status != 400 || resp.Header.Get("Content-Type") != tt.contentType {
				t.Fatalf("answer: %d %s %s", resp.Status, resp.Header.Get("Content-Type"), resp.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(resp.Body, &body); err != nil {
				t.Fatalf("body is not JSON: %s", resp.Body)
			}
			if tt.code(body) != "invalid_json" || tt.requestID(body) != "trace-4711" || resp.Header.Get("X-Request-ID") != "trace-4711" {
				t.Fatalf("code or request id lost: %s", resp.Body)
			}
			if len(store.Received()) != 0 {
				t.Fatal("an invalid body reached the store")
			}
			// A good request still goes through.
			sc.DoWant(t, 201, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"email":"ada@example.com"}`})
			store.MustNotHold(t, "ada@example.com")
		})
	}
	t.Run("a template that would not render JSON is a config error", func(t *testing.T) {
		store := sidecartest.NewStore(t, sidecartest.GoJSON)
		sc := start(t, store.URL(), routes)
		cfg, err := os.ReadFile(sc.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		bad := filepath.Join(sc.Dir, "bad.yaml")
		cfg = append(cfg, "errors: {format: template, template: '{\"message\":\"{{.Message}}\"}'}\n"...)
		if err := os.WriteFile(bad, cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		res := sc.Exec(t, "config", "check", bad)
		out, errb, err := res.Stdout, res.Stderr, exitErr(res.Code)
		if err == nil || !strings.Contains(string(out)+string(errb), "does not render valid JSON") {
			t.Fatalf("config check: %v\n%s%s", err, out, errb)
		}
	})
}
