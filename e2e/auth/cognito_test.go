package authe2e_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// subject reads the sub claim of a token the test obtained (not verified:
// the test only needs to look for it where it must not be).
func subject(t *testing.T, token string) string {
	t.Helper()
	sub, _ := payload(t, token)["sub"].(string)
	if sub == "" {
		t.Fatal("no sub claim")
	}
	return sub
}

func TestCognitoSystemAccountThroughTheBinary(t *testing.T) {
	pool := motoserver.RequireCognitoPool(t)
	up := sidecartest.NewStore(t, sidecartest.GoJSON)
	authYAML := sidecartest.AuthYAML(pool.Issuer, pool.JWKSURL, pool.ClientID)
	// The system account is the billing caller only when both its app client
	// and its group match; an unrelated token from the pool would be default.
	policies := fmt.Sprintf(`
policies:
  allow_anonymous: false
  callers:
    - id: billing
      match: {client_ids: [%s], groups: [%s]}
      actions: {email: decrypt, phone: mask, rrn: sealed}
`, pool.ClientID, pool.Group)
	s := startSidecar(t, up, authYAML, policies)
	token, idToken := pool.SignIn(t)
	sub := subject(t, token)

	var id string
	t.Run("the system account's write is stored sealed", func(t *testing.T) {
		status, got, raw := s.do(t, http.MethodPost, "/customers", token,
			fmt.Sprintf(`{"name":"Jane Doe","email":%q,"phone":%q,"rrn":%q}`, janeEmail, janePhone, janeRRN))
		if status != http.StatusCreated {
			t.Fatalf("POST with a Cognito access token: status %d: %s", status, raw)
		}
		id = fmt.Sprint(got["id"])
		stored := storedJSON(t, up, id)
		for _, p := range []string{janeEmail, janePhone, janeRRN} {
			if bytes.Contains(stored, []byte(p)) {
				t.Errorf("the upstream stored plaintext %q: %s", p, stored)
			}
		}
		if bytes.Count(stored, []byte(`"fs1:`)) != 3 {
			t.Errorf("the upstream record does not hold 3 sealed values: %s", stored)
		}
	})
	if id == "" {
		t.Fatal("no record to read")
	}

	t.Run("the system account gets its configured actions on a read", func(t *testing.T) {
		status, got, raw := s.do(t, http.MethodGet, "/customers/"+id, token, "")
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, raw)
		}
		rrn, _ := got["rrn"].(string)
		if got["email"] != janeEmail || got["phone"] != janePhoneMasked || !strings.HasPrefix(rrn, "fs1:") {
			t.Errorf("read = %s, want the e-mail in plaintext, the phone %q and the rrn sealed", raw, janePhoneMasked)
		}
	})

	t.Run("a tampered Cognito token is refused with 401", func(t *testing.T) {
		parts := strings.Split(token, ".")
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(sig) == 0 {
			t.Fatalf("signature is not base64url: %v", err)
		}
		sig[len(sig)/2] ^= 0x01
		tampered := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		if tampered == token {
			t.Fatal("tampering left the token unchanged")
		}
		status, got, raw := s.do(t, http.MethodGet, "/customers/"+id, tampered, "")
		if status != http.StatusUnauthorized || errorCode(got) != "unauthenticated" || !strings.HasSuffix(errorMessage(got), ": bad_signature") {
			t.Errorf("status %d: %s", status, raw)
		}
	})

	t.Run("a Cognito ID token is refused where access tokens are required", func(t *testing.T) {
		status, got, raw := s.do(t, http.MethodGet, "/customers/"+id, idToken, "")
		if status != http.StatusUnauthorized || !strings.HasSuffix(errorMessage(got), ": wrong_token_use") {
			t.Errorf("status %d: %s", status, raw)
		}
	})

	var metrics []byte
	t.Run("metrics label the fields with the caller id, not the token subject", func(t *testing.T) {
		fams, body := s.metrics(t)
		metrics = body
		for _, series := range []map[string]string{
			{"caller": "billing", "class": "email", "op": "open", "result": "ok"},
			{"caller": "billing", "class": "phone", "op": "mask", "result": "ok"},
			{"caller": "billing", "class": "rrn", "op": "seal", "result": "ok"},
		} {
			if v := fams.Sum("fieldseal_proxy_fields_total", series); v < 1 {
				t.Errorf("fieldseal_proxy_fields_total%v = %v, want at least 1", series, v)
			}
		}
		if v := fams.Sum("fieldseal_auth_verified_total", nil); v < 2 {
			t.Errorf("fieldseal_auth_verified_total = %v, want at least 2", v)
		}
		if v := fams.Sum("fieldseal_auth_failures_total", map[string]string{"reason": "bad_signature"}); v != 1 {
			t.Errorf(`fieldseal_auth_failures_total{reason="bad_signature"} = %v, want 1`, v)
		}
		for _, secret := range []string{sub, pool.Username} {
			if bytes.Contains(body, []byte(secret)) {
				t.Errorf("/metrics holds the token's subject or username %q", secret)
			}
		}
	})
	if t.Failed() {
		t.Logf("metrics:\n%s", fieldsealMetrics(metrics))
	}

	s.Stop(t)
	raw, events := readAudit(t, s.AuditFile)
	t.Run("the audit trail verifies and records the system account as billing without values", func(t *testing.T) {
		if out, stderr, code := s.verifyAudit(t, s.AuditFile); code != 0 {
			t.Errorf("audit verify: exit %d: %s%s", code, out, stderr)
		}
		var billing, reqs int
		for _, e := range events {
			if e.Type == "request" {
				reqs++
				if e.Caller == "billing" && e.Outcome == "ok" {
					billing++
				}
			}
		}
		if want := int(s.requests.Load()); reqs != want || billing != 2 {
			t.Errorf("%d request events (%d by billing, ok), want %d (2)", reqs, billing, want)
		}
		for _, secret := range []string{janeEmail, janePhone, janeRRN, token, idToken, sub, pool.Username} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("the audit file holds %q", secret)
			}
		}
	})
}
