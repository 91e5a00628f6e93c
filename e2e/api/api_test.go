// Package apie2e_test runs the encryption API (issue 13) end to end: the
// fieldseal binary built from this repository with its API listener on, in
// front of a recording store, on the local key provider, with callers
// authenticated by real bearer tokens (a test issuer's, and Cognito access
// tokens from the moto emulator), the policies from the config, the
// hash-chained audit file and the metrics. Values sealed by the API are
// opened by the proxy and the other way round.
package apie2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

var bin string

func TestMain(m *testing.M) { os.Exit(sidecartest.RunWithBinary(m, &bin)) }

// fieldMap is the customers map with a deterministic customer number, so
// that a caller can look a customer up by it.
var fieldMap = sidecartest.CustomersWithID("customer_no", "{mode: deterministic}")

// Callers: billing reads e-mails and customer numbers and sees phones
// masked; support sees everything masked; ingest is encrypt-only (writes,
// reads sealed values, and may send values the API sealed through the
// proxy: write_sealed); auditor may neither write nor read.
const policies = `
policies:
  allow_anonymous: true
  default:
    actions: {"*": deny}
    write: none
  callers:
    - id: billing
      match: {client_ids: [billing-app]}
      actions: {email: decrypt, phone: mask, customer_no: decrypt}
    - id: support
      match: {client_ids: [support-app]}
      actions: {"*": mask}
    - id: ingest
      match: {client_ids: [ingest-app]}
      read: false
      actions: {"*": sealed}
      write_sealed: all
    - id: auditor
      match: {client_ids: [auditor-app]}
      actions: {"*": deny}
      write: none
`

const (
	janeEmail = "jane.doe@example.com"
	janePhone = "+82 10-1234-5678"
	janeNo    = "C-1001"
)

// answer is a decoded API answer.
type answer struct {
	RequestID string `json:"request_id"`
	Items     []struct {
		Value    json.RawMessage `json:"value"`
		Document json.RawMessage `json:"document"`
		Error    *struct{ Code, Message string }
	} `json:"items"`
	Error *struct{ Code, Message string } `json:"error"`
}

func call(t *testing.T, s *sidecartest.Sidecar, op, token, body string) (int, answer, []byte) {
	t.Helper()
	resp := s.CallAPI(t, op, token, body)
	var a answer
	if err := json.Unmarshal(resp.Body, &a); err != nil {
		t.Fatalf("POST /v1/%s: %d, body is not JSON: %s", op, resp.Status, resp.Body)
	}
	return resp.Status, a, resp.Body
}

func str(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is not a JSON string", raw)
	}
	return s
}

func TestAPIThroughTheBinary(t *testing.T) {
	iss := sidecartest.NewIssuer(t)
	store := sidecartest.NewStore(t, sidecartest.GoJSON)
	s := sidecartest.Start(t, bin, sidecartest.Config{
		Upstream: store.URL(),
		FieldMap: fieldMap + iss.AuthYAML("billing-app", "support-app", "ingest-app", "auditor-app") + policies,
		API:      &sidecartest.API{},
	})
	billing, support := iss.Token(t, "billing-app", ""), iss.Token(t, "support-app", "")
	ingest, auditor := iss.Token(t, "ingest-app", ""), iss.Token(t, "auditor-app", "")

	var sealedEmail, sealedPhone, sealedNo string
	t.Run("seal answers a batch in order with per-item errors", func(t *testing.T) {
		status, a, raw := call(t, s, "seal", ingest, fmt.Sprintf(`{"items":[
			{"class":"email","value":%q},
			{"class":"nope","value":"x"},
			{"class":"phone","value":%q},
			{"class":"customer_no","value":%q},
			{"route":"customers-write","document":{"name":"Jane","email":%q}},
			{"route":"customers-get","document":{}}
		]}`, janeEmail, janePhone, janeNo, janeEmail))
		if status != http.StatusOK || len(a.Items) != 6 {
			t.Fatalf("status %d: %s", status, raw)
		}
		for _, p := range []string{janeEmail, janePhone, janeNo} {
			if strings.Contains(string(raw), p) {
				t.Errorf("the answer holds plaintext %q: %s", p, raw)
			}
		}
		if e := a.Items[1].Error; e == nil || e.Code != "unknown_class" {
			t.Errorf("item 2 = %s, want unknown_class", raw)
		}
		if e := a.Items[5].Error; e == nil || e.Code != "no_fields" {
			t.Errorf("item 6 (a route without request fields) = %s, want no_fields", raw)
		}
		sealedEmail, sealedPhone, sealedNo = str(t, a.Items[0].Value), str(t, a.Items[2].Value), str(t, a.Items[3].Value)
		for _, v := range []string{sealedEmail, sealedPhone, sealedNo} {
			if !strings.HasPrefix(v, "fs1:") {
				t.Errorf("not a sealed value: %q", v)
			}
		}
		if d := string(a.Items[4].Document); !strings.Contains(d, `"name":"Jane"`) || !strings.Contains(d, `"email":"fs1:`) {
			t.Errorf("the document is not sealed in place: %s", d)
		}
	})

	t.Run("a sealed value is sealed again only for a caller that may send sealed values", func(t *testing.T) {
		body := fmt.Sprintf(`{"items":[{"class":"email","value":%q}]}`, sealedEmail)
		_, a, raw := call(t, s, "seal", billing, body)
		if len(a.Items) != 1 || a.Items[0].Error == nil || a.Items[0].Error.Code != "sealed_value_refused" {
			t.Errorf("billing (no write_sealed) = %s, want sealed_value_refused", raw)
		}
		_, a, raw = call(t, s, "seal", ingest, body)
		if len(a.Items) != 1 || a.Items[0].Error != nil || str(t, a.Items[0].Value) != sealedEmail {
			t.Errorf("ingest (write_sealed: all) = %s, want the value kept", raw)
		}
	})

	var apiID string
	t.Run("what the API sealed, the proxy stores and opens", func(t *testing.T) {
		resp := s.Do(t, sidecartest.Req{Method: http.MethodPost, Path: "/customers", Header: map[string]string{"Authorization": "Bearer " + ingest},
			JSON: fmt.Sprintf(`{"name":"Jane","email":%q,"phone":%q,"customer_no":%q}`, sealedEmail, sealedPhone, sealedNo)})
		if resp.Status != http.StatusCreated {
			t.Fatalf("POST through the proxy: %d %s", resp.Status, resp.Body)
		}
		var rec map[string]any
		_ = json.Unmarshal(resp.Body, &rec)
		apiID = fmt.Sprint(rec["id"])
		if got := store.Record(apiID); got["email"] != sealedEmail || got["customer_no"] != sealedNo {
			t.Errorf("the store holds %v, want the API's sealed values as they are", got)
		}
		read := s.Do(t, sidecartest.Req{Method: http.MethodGet, Path: "/customers/" + apiID, Header: map[string]string{"Authorization": "Bearer " + billing}})
		if read.Status != http.StatusOK || !strings.Contains(string(read.Body), janeEmail) || !strings.Contains(string(read.Body), janeNo) {
			t.Errorf("billing's read through the proxy: %d %s", read.Status, read.Body)
		}
	})

	var stored map[string]any
	t.Run("what the proxy sealed, the API opens per the caller's policy", func(t *testing.T) {
		resp := s.Do(t, sidecartest.Req{Method: http.MethodPost, Path: "/customers", Header: map[string]string{"Authorization": "Bearer " + billing},
			JSON: fmt.Sprintf(`{"name":"Joe","email":"joe@example.com","phone":"+1 555 0100","customer_no":%q}`, janeNo)})
		if resp.Status != http.StatusCreated {
			t.Fatalf("POST through the proxy: %d %s", resp.Status, resp.Body)
		}
		store.MustNotHold(t, janeEmail, janePhone, janeNo, "joe@example.com", "+1 555 0100")
		var rec map[string]any
		_ = json.Unmarshal(resp.Body, &rec)
		stored = store.Record(fmt.Sprint(rec["id"]))
		doc, _ := json.Marshal(stored)
		body := fmt.Sprintf(`{"items":[{"class":"email","value":%q},{"class":"phone","value":%q},{"route":"customers-get","document":%s}]}`,
			stored["email"], stored["phone"], doc)
		for _, tc := range []struct {
			caller, token string
			check         func(t *testing.T, a answer, raw []byte)
		}{
			{"billing decrypts the e-mail and sees the phone masked", billing, func(t *testing.T, a answer, raw []byte) {
				if str(t, a.Items[0].Value) != "joe@example.com" || str(t, a.Items[1].Value) != "fsm:***-****-0100" && !strings.HasPrefix(str(t, a.Items[1].Value), "fsm:") {
					t.Errorf("%s", raw)
				}
				if d := string(a.Items[2].Document); !strings.Contains(d, `"email":"joe@example.com"`) || !strings.Contains(d, `"customer_no":"`+janeNo+`"`) || strings.Contains(d, "+1 555 0100") {
					t.Errorf("document: %s", d)
				}
			}},
			{"support sees masks only", support, func(t *testing.T, a answer, raw []byte) {
				if strings.Contains(string(raw), "joe@example.com") || strings.Contains(string(raw), "+1 555 0100") || strings.Contains(string(raw), janeNo) ||
					!strings.HasPrefix(str(t, a.Items[0].Value), "fsm:") {
					t.Errorf("%s", raw)
				}
			}},
			{"the encrypt-only caller gets the sealed values back, never plaintext", ingest, func(t *testing.T, a answer, raw []byte) {
				if str(t, a.Items[0].Value) != stored["email"] || str(t, a.Items[1].Value) != stored["phone"] || strings.Contains(string(raw), "joe@example.com") {
					t.Errorf("%s", raw)
				}
			}},
			{"the auditor is forbidden each value and gets the document left sealed", auditor, func(t *testing.T, a answer, raw []byte) {
				if a.Items[0].Error == nil || a.Items[0].Error.Code != "forbidden" || a.Items[1].Error == nil || a.Items[1].Error.Code != "forbidden" ||
					strings.Contains(string(raw), "joe@example.com") || !strings.Contains(string(a.Items[2].Document), fmt.Sprint(stored["email"])) {
					t.Errorf("%s", raw)
				}
			}},
		} {
			t.Run(tc.caller, func(t *testing.T) {
				status, a, raw := call(t, s, "open", tc.token, body)
				if status != http.StatusOK || len(a.Items) != 3 {
					t.Fatalf("status %d: %s", status, raw)
				}
				tc.check(t, a, raw)
			})
		}
	})

	t.Run("lookup gives the value the proxy stored for a deterministic class", func(t *testing.T) {
		status, a, raw := call(t, s, "lookup", ingest, fmt.Sprintf(`{"items":[{"class":"customer_no","value":%q},{"class":"email","value":"x@y"}]}`, janeNo))
		if status != http.StatusOK || len(a.Items) != 2 {
			t.Fatalf("status %d: %s", status, raw)
		}
		if got := str(t, a.Items[0].Value); got != stored["customer_no"] || got != sealedNo {
			t.Errorf("lookup = %q, the proxy stored %q and the API sealed %q", got, stored["customer_no"], sealedNo)
		}
		if e := a.Items[1].Error; e == nil || e.Code != "not_deterministic" {
			t.Errorf("a random class: %s", raw)
		}
		_, a, raw = call(t, s, "lookup", auditor, fmt.Sprintf(`{"items":[{"class":"customer_no","value":%q}]}`, janeNo))
		if e := a.Items[0].Error; e == nil || e.Code != "forbidden" {
			t.Errorf("a caller that may not write the class looked it up: %s", raw)
		}
	})

	t.Run("a caller that may not write cannot seal", func(t *testing.T) {
		_, a, raw := call(t, s, "seal", auditor, `{"items":[{"class":"email","value":"a@b"}]}`)
		if e := a.Items[0].Error; e == nil || e.Code != "forbidden" {
			t.Errorf("%s", raw)
		}
	})

	t.Run("calls without a token or with a bad one are refused, though the proxy allows anonymous callers", func(t *testing.T) {
		for _, token := range []string{"", "not-a-jwt", strings.Replace(billing, ".", ".x", 1)} {
			status, a, raw := call(t, s, "open", token, `{"items":[{"class":"email","value":"x"}]}`)
			if status != http.StatusUnauthorized || a.Error == nil || a.Error.Code != "unauthenticated" {
				t.Errorf("token %.12q: %d %s", token, status, raw)
			}
		}
	})

	t.Run("call errors have the proxy's shape and codes", func(t *testing.T) {
		resp, err := sidecartest.Send(s.APIURL, sidecartest.Req{Method: http.MethodPost, Path: "/v1/seal",
			Header: map[string]string{"Authorization": "Bearer " + billing, "Content-Type": "text/plain"}, Body: []byte(`{}`)})
		if err != nil || resp.Status != http.StatusUnsupportedMediaType || sidecartest.ErrorCode(resp.Body) != "unsupported_media_type" {
			t.Errorf("text/plain: %d %s %v", resp.Status, resp.Body, err)
		}
		big := `{"items":[{"class":"email","value":"` + strings.Repeat("a", 2<<20) + `"}]}`
		if status, a, raw := call(t, s, "seal", billing, big); status != http.StatusRequestEntityTooLarge || a.Error.Code != "body_too_large" {
			t.Errorf("2 MiB body: %d %.200s", status, raw)
		}
	})

	t.Run("metrics count calls and items by caller and operation", func(t *testing.T) {
		for _, m := range []struct {
			name   string
			labels map[string]string
		}{
			{"fieldseal_api_requests_total", map[string]string{"caller": "billing", "operation": "open", "outcome": "ok"}},
			{"fieldseal_api_requests_total", map[string]string{"caller": "ingest", "operation": "seal", "outcome": "item_errors"}},
			{"fieldseal_api_requests_total", map[string]string{"caller": "", "operation": "open", "outcome": "unauthenticated"}},
			{"fieldseal_api_items_total", map[string]string{"caller": "auditor", "operation": "open", "result": "forbidden"}},
			{"fieldseal_api_fields_total", map[string]string{"caller": "billing", "class": "email", "op": "open", "result": "ok"}},
			{"fieldseal_api_request_duration_seconds", map[string]string{"operation": "lookup"}},
		} {
			if v := s.Metric(t, m.name, m.labels); v < 1 {
				t.Errorf("%s%v = %v, want at least 1", m.name, m.labels, v)
			}
		}
	})

	t.Run("every call is one audit event without values, and the chain verifies", func(t *testing.T) {
		lines := s.AuditLines(t, `"operation":"lookup","items":1`)
		var calls []map[string]any
		for _, l := range lines {
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("audit line is not JSON: %s", l)
			}
			if e["type"] == "api" {
				calls = append(calls, e)
			}
			for _, p := range []string{janeEmail, janePhone, janeNo, "joe@example.com", billing, ingest} {
				if strings.Contains(l, p) {
					t.Errorf("the audit trail holds %q: %s", p, l)
				}
			}
		}
		// seal 1 + sealed again 2 + open 4 + lookup 2 + seal 1 + refused 3 + call errors 2
		if len(calls) != 15 {
			t.Errorf("%d api events, want 15", len(calls))
		}
		first := calls[0]
		if first["caller"] != "ingest" || first["operation"] != "seal" || first["items"] != 6.0 || first["outcome"] != "rejected" ||
			first["reason"] != "no_fields" || fmt.Sprint(first["errors"]) != "map[no_fields:1 unknown_class:1]" || first["key_ids"] == nil {
			t.Errorf("first event: %v", first)
		}
		var outcomes []string
		for _, e := range calls {
			caller, _ := e["caller"].(string) // absent when authentication failed
			outcomes = append(outcomes, fmt.Sprint(caller, ":", e["operation"], ":", e["outcome"]))
		}
		for _, want := range []string{"billing:open:ok", "auditor:open:denied", "auditor:lookup:denied", ":open:unauthenticated", "billing:seal:rejected", "billing:seal:denied"} {
			if !slices.Contains(outcomes, want) {
				t.Errorf("no %s event among %v", want, outcomes)
			}
		}
		s.Run(t, "audit", "verify", s.AuditFile)
	})

	t.Run("SIGTERM stops the API listener with the others, cleanly", func(t *testing.T) {
		s.Stop(t)
		if _, err := sidecartest.Send(s.APIURL, sidecartest.Req{Method: http.MethodPost, Path: "/v1/seal"}); err == nil {
			t.Errorf("the API still answers after shutdown")
		}
	})
}

func TestAPIWithoutAuthServesAnonymousCallersOnlyWhenAllowed(t *testing.T) {
	store := sidecartest.NewStore(t, sidecartest.GoJSON)
	// Without authentication, values already sealed are accepted only by
	// the guard's sealed_writes: accept, on the proxy and the API alike.
	s := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.URL(), FieldMap: fieldMap + "guard: {sealed_writes: accept}\n",
		API: &sidecartest.API{AllowAnonymous: true}})
	_, a, raw := call(t, s, "seal", "", `{"items":[{"class":"email","value":"a@b.example"}]}`)
	if len(a.Items) != 1 || a.Items[0].Error != nil {
		t.Fatalf("anonymous seal: %s", raw)
	}
	if _, again, raw := call(t, s, "seal", "", `{"items":[{"class":"email","value":`+string(a.Items[0].Value)+`}]}`); len(again.Items) != 1 ||
		string(again.Items[0].Value) != string(a.Items[0].Value) {
		t.Errorf("anonymous seal of a sealed value under sealed_writes: accept = %s, want it kept", raw)
	}
	// The proxy keeps it and opens it for its (equally unauthenticated)
	// callers.
	resp := s.Do(t, sidecartest.Req{Method: http.MethodPost, Path: "/customers", JSON: `{"email":` + string(a.Items[0].Value) + `}`})
	if resp.Status != http.StatusCreated || !strings.Contains(string(resp.Body), "a@b.example") {
		t.Errorf("proxy: %d %s", resp.Status, resp.Body)
	}
	store.MustNotHold(t, "a@b.example")

	t.Run("the README's Python snippet calls it", func(t *testing.T) {
		python, err := exec.LookPath("python3")
		if err != nil {
			testproc.Missing(t, "python3 not found")
		}
		readme, err := os.ReadFile("../../README.md")
		if err != nil {
			t.Fatal(err)
		}
		_, section, _ := strings.Cut(string(readme), "## The encryption API")
		_, code, ok := strings.Cut(section, "```python\n")
		code, _, ok2 := strings.Cut(code, "```")
		if !ok || !ok2 {
			t.Fatal("no python block in the README's API section")
		}
		script := filepath.Join(t.TempDir(), "snippet.py")
		if err := os.WriteFile(script, []byte(code), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, script)
		cmd.Env = append(os.Environ(), "FIELDSEAL_API="+s.APIURL)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "jane@example.com\n") || !strings.Contains(string(out), "unknown_class") {
			t.Errorf("python snippet: %v\n%s", err, out)
		}
	})

	// Without allow_anonymous and without auth, serve refuses the config.
	bad := s.Dir + "/no-auth.yaml"
	cfg := fmt.Sprintf("upstream: %s\napi:\n  listen: 127.0.0.1:0\n%s", store.URL(), fieldMap)
	if err := os.WriteFile(bad, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := s.Exec(t, "config", "check", bad); res.Code == 0 || !strings.Contains(string(res.Stderr), "api needs an auth section") {
		t.Errorf("config check accepted an unauthenticated API: exit %d %s", res.Code, res.Stderr)
	}
}
