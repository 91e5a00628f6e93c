package appse2e_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// Issue 16 item 12: issuers send "scope" as a JSON array and "scp" as one
// space-separated string (or an array); a policy matching on scopes must
// match every form.
func TestScopeClaimFormsMatchPolicies(t *testing.T) {
	iss := newIssuer(t)
	store := sidecartest.NewStore(t, sidecartest.GoJSON)
	sc := start(t, store.URL(), iss.AuthYAML("app")+emailMap(route{name: "customers", methods: "GET, POST", paths: `/customers, "/customers/{id}"`,
		request: "email", response: "email"})+`policies:
  default:
    actions: {"*": sealed}
    write: all
  callers:
    - id: reader
      match: {scopes: [customers/read]}
      actions: {"*": decrypt}
      write: all
`)

	writer := iss.token(t, "app", nil)
	resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"email":"ada@example.com"}`,
		Header: map[string]string{"Authorization": "Bearer " + writer}})
	if resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	store.MustNotHold(t, "ada@example.com")

	tests := []struct {
		name    string
		claims  map[string]any
		decrypt bool
	}{
		{"scope as a space-separated string matches", map[string]any{"scope": "openid customers/read"}, true},
		{"scope as a JSON array matches", map[string]any{"scope": []string{"openid", "customers/read"}}, true},
		{"scp as one space-separated string matches", map[string]any{"scp": "openid customers/read"}, true},
		{"scp as a JSON array matches", map[string]any{"scp": []string{"customers/read"}}, true},
		{"another scope gets the default", map[string]any{"scope": []string{"customers/write"}}, false},
		{"no scope gets the default", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := sc.Do(t, sidecartest.Req{Path: "/customers/1",
				Header: map[string]string{"Authorization": "Bearer " + iss.token(t, "app", tt.claims)}})
			if resp.Status != 200 {
				t.Fatalf("read: %d %s", resp.Status, resp.Body)
			}
			var got struct{ Email string }
			if err := json.Unmarshal(resp.Body, &got); err != nil {
				t.Fatal(err)
			}
			if tt.decrypt != (got.Email == "ada@example.com") {
				t.Fatalf("email = %q, want decrypted %v", got.Email, tt.decrypt)
			}
			if !tt.decrypt && !strings.HasPrefix(got.Email, "fs1:") {
				t.Fatalf("email = %q, want the sealed value", got.Email)
			}
		})
	}
}
