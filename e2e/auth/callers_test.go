package authe2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// callersPolicies is the policy of the test-issuer sidecar: one caller per
// behaviour the issue asks for.
const callersPolicies = `
policies:
  allow_anonymous: false
  default:
    actions: {"*": sealed}
  callers:
    - id: billing
      match: {client_ids: [billing-app], scopes: [customers/read]}
      actions: {email: decrypt, phone: mask, rrn: sealed}
    - id: support
      match: {groups: [support]}
      actions: {"*": mask}
      write: none
    - id: ingest
      match: {client_ids: [ingest-app]}
      read: false
    - id: auditor
      match: {client_ids: [auditor-app]}
      actions: {email: mask, phone: mask, rrn: deny}
`

// The record every caller reads, and the masks the documented formats give.
const (
	janeEmail = "jane.doe@example.com"
	janePhone = "010-1234-5678"
	janeRRN   = "900101-1234567"

	janeEmailMasked = "fsm:j***@example.com"
	janePhoneMasked = "fsm:***-****-5678"
	janeRRNMasked   = "fsm:900101-1******"
)

// Token subjects: unique strings that must never show up in a metric label.
const (
	subBilling = "sub-billing-0b7f2d9e"
	subSupport = "sub-support-5c1a8e44"
	subIngest  = "sub-ingest-91d3c0aa"
	subAuditor = "sub-auditor-3e6b7f12"
	subOther   = "sub-other-a4c9d2e8"
)

func TestCallersThroughTheBinary(t *testing.T) {
	iss := sidecartest.NewIssuer(t)
	up := sidecartest.NewStore(t, sidecartest.GoJSON)
	authYAML := iss.AuthYAML("billing-app", "support-app", "ingest-app", "auditor-app", "other-app") + "  leeway: 5s\n"
	s := startSidecar(t, up, authYAML, callersPolicies)

	billing := iss.Sign(t, iss.Claims("billing-app", subBilling, "customers/read customers/write"))
	support := iss.Sign(t, iss.Claims("support-app", subSupport, "", "support"))
	ingest := iss.Sign(t, iss.Claims("ingest-app", subIngest, "customers/write"))
	auditor := iss.Sign(t, iss.Claims("auditor-app", subAuditor, "audit/read"))
	other := iss.Sign(t, iss.Claims("other-app", subOther, ""))
	// Tokens the sidecar must refuse, each with the reason the 401 names.
	expiredClaims := iss.Claims("billing-app", subBilling, "customers/read")
	expiredClaims["iat"] = time.Now().Add(-2 * time.Hour).Unix()
	expiredClaims["exp"] = time.Now().Add(-time.Hour).Unix()
	otherIssuer := iss.Claims("billing-app", subBilling, "customers/read")
	otherIssuer["iss"] = "https://issuer.invalid"
	refused := []struct {
		name, token, reason string
	}{
		{"a request without a token gets a 401 JSON error", "", "missing"},
		{"a bearer value that is not a JWT gets 401", "not-a-jwt", "malformed"},
		{"an expired token gets 401", iss.Sign(t, expiredClaims), "expired"},
		{"an alg none token gets 401", unsigned(t, iss, iss.Claims("billing-app", subBilling, "customers/read customers/write")), "alg_not_allowed"},
		{"an HS256 token keyed with the issuer's public key gets 401", hmacWithPublicKey(t, iss, iss.Claims("billing-app", subBilling, "customers/read")), "alg_not_allowed"},
		{"a token signed by an unknown key gets 401", signRogue(t, iss.Claims("billing-app", subBilling, "customers/read")), "unknown_kid"},
		{"a token with a tampered payload gets 401", tamperPayload(t, other, "client_id", "billing-app"), "bad_signature"},
		{"a token from another issuer gets 401", iss.Sign(t, otherIssuer), "wrong_issuer"},
		{"a token for another app client gets 401", iss.Sign(t, iss.Claims("stranger-app", subOther, "customers/read")), "wrong_audience"},
	}
	// refusedEmail is the plaintext each refused request tries to write.
	refusedEmail := func(i int) string { return fmt.Sprintf("lee.refused%d@example.com", i) }

	// Every plaintext any request sent: none may reach the upstream or the audit file.
	plaintexts := []string{janeEmail, janePhone, janeRRN, "kim.auditor@example.com", "850202-2345678",
		"jane.new@example.com", "010-9999-0000"}
	tokens := []string{billing, support, ingest, auditor, other}
	for i, r := range refused {
		plaintexts = append(plaintexts, refusedEmail(i))
		if r.token != "" {
			tokens = append(tokens, r.token)
		}
	}

	var id string
	t.Run("a write-only caller may write and its values are stored sealed", func(t *testing.T) {
		status, got, raw := s.do(t, http.MethodPost, "/customers", ingest,
			fmt.Sprintf(`{"name":"Jane Doe","email":%q,"phone":%q,"rrn":%q,"plan":"gold"}`, janeEmail, janePhone, janeRRN))
		if status != http.StatusCreated {
			t.Fatalf("POST as ingest: status %d: %s", status, raw)
		}
		id = fmt.Sprint(got["id"])
		stored := storedJSON(t, up, id)
		for _, f := range []string{"email", "phone", "rrn"} {
			var rec map[string]any
			_ = json.Unmarshal(stored, &rec)
			if v, _ := rec[f].(string); !strings.HasPrefix(v, "fs1:") {
				t.Errorf("upstream stored %s = %v, want a sealed value", f, rec[f])
			}
		}
		if !bytes.Contains(stored, []byte(`"plan":"gold"`)) {
			t.Errorf("upstream record lost an unprotected field: %s", stored)
		}
		t.Run("and its write response comes back sealed", func(t *testing.T) {
			for _, f := range []string{"email", "phone", "rrn"} {
				if v, _ := got[f].(string); !strings.HasPrefix(v, "fs1:") {
					t.Errorf("%s = %v, want sealed: %s", f, got[f], raw)
				}
			}
		})
	})
	if id == "" {
		t.Fatal("no record to read")
	}

	sealed := func(v any) bool { s, _ := v.(string); return strings.HasPrefix(s, "fs1:") }
	for _, tc := range []struct {
		name, token       string
		email, phone, rrn any // a string to equal, or nil for "sealed"
		wantStatus        int
	}{
		{"billing reads the e-mail in plaintext, the phone masked and the rrn sealed", billing, janeEmail, janePhoneMasked, nil, http.StatusOK},
		{"support reads every class masked in the documented formats", support, janeEmailMasked, janePhoneMasked, janeRRNMasked, http.StatusOK},
		{"a write-only caller reads every class sealed", ingest, nil, nil, nil, http.StatusOK},
		{"the auditor reads masks and the denied rrn stays sealed", auditor, janeEmailMasked, janePhoneMasked, nil, http.StatusOK},
		{"a token matching no caller gets the default: everything sealed", other, nil, nil, nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, got, raw := s.do(t, http.MethodGet, "/customers/"+id, tc.token, "")
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tc.wantStatus, raw)
			}
			for _, f := range []struct {
				name string
				want any
			}{{"email", tc.email}, {"phone", tc.phone}, {"rrn", tc.rrn}} {
				switch {
				case f.want == nil && !sealed(got[f.name]):
					t.Errorf("%s = %v, want the sealed value", f.name, got[f.name])
				case f.want != nil && got[f.name] != f.want:
					t.Errorf("%s = %v, want %v", f.name, got[f.name], f.want)
				}
			}
			if got["plan"] != "gold" || got["name"] != "Jane Doe" {
				t.Errorf("unprotected fields changed: %s", raw)
			}
		})
	}

	t.Run("a caller denied a class gets 403 when sending it and nothing reaches the upstream", func(t *testing.T) {
		before := len(up.Received())
		status, got, raw := s.do(t, http.MethodPost, "/customers", auditor, `{"email":"kim.auditor@example.com","rrn":"850202-2345678"}`)
		if status != http.StatusForbidden || errorCode(got) != "forbidden" {
			t.Errorf("status %d: %s", status, raw)
		}
		if n := len(up.Received()); n != before {
			t.Errorf("the upstream received %d requests for a refused write", n-before)
		}
	})

	t.Run("a caller without write permission gets 403 and nothing reaches the upstream", func(t *testing.T) {
		before := len(up.Received())
		status, got, raw := s.do(t, http.MethodPatch, "/customers/"+id, support, `{"email":"jane.new@example.com"}`)
		if status != http.StatusForbidden || errorCode(got) != "forbidden" {
			t.Errorf("status %d: %s", status, raw)
		}
		if n := len(up.Received()); n != before {
			t.Errorf("the upstream received %d requests for a refused write", n-before)
		}
	})

	t.Run("writing a masked value back gets 422 and the stored value is unchanged", func(t *testing.T) {
		before, n := storedJSON(t, up, id), len(up.Received())
		for _, body := range []string{
			fmt.Sprintf(`{"email":"jane.new@example.com","phone":%q}`, janePhoneMasked),
			`{"phone":"\u0066sm:***-****-5678"}`,
			fmt.Sprintf(`{"name":"Jane Doe","email":%q,"phone":"010-9999-0000","rrn":%q,"plan":"gold"}`, janeEmailMasked, janeRRNMasked),
		} {
			status, got, raw := s.do(t, http.MethodPut, "/customers/"+id, billing, body)
			if status != http.StatusUnprocessableEntity || errorCode(got) != "masked_value" {
				t.Errorf("PUT %s: status %d: %s", body, status, raw)
			}
		}
		if after := storedJSON(t, up, id); !bytes.Equal(before, after) {
			t.Errorf("the stored record changed:\nbefore %s\nafter  %s", before, after)
		}
		if got := len(up.Received()); got != n {
			t.Errorf("the upstream received %d requests for refused writes", got-n)
		}
	})

	t.Run("a caller may write back the real value and reads its own policy's view", func(t *testing.T) {
		status, got, raw := s.do(t, http.MethodPatch, "/customers/"+id, billing, `{"phone":"010-9999-0000"}`)
		if status != http.StatusOK || got["phone"] != "fsm:***-****-0000" || got["email"] != janeEmail || !sealed(got["rrn"]) {
			t.Errorf("status %d: %s", status, raw)
		}
	})

	for i, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []struct{ method, path, body string }{
				{http.MethodGet, "/customers/" + id, ""},
				{http.MethodPost, "/customers", fmt.Sprintf(`{"email":%q}`, refusedEmail(i))},
			} {
				before := len(up.Received())
				status, got, raw := s.do(t, m.method, m.path, tc.token, m.body)
				if status != http.StatusUnauthorized || errorCode(got) != "unauthenticated" {
					t.Errorf("%s: status %d: %s", m.method, status, raw)
				}
				if msg := errorMessage(got); !strings.HasSuffix(msg, ": "+tc.reason) {
					t.Errorf("%s: error message %q does not name the reason %q", m.method, msg, tc.reason)
				}
				if len(up.Received()) != before {
					t.Errorf("%s: an unauthenticated request reached the upstream", m.method)
				}
			}
		})
	}

	var metrics []byte
	t.Run("metrics count auth failures by reason and fields by caller, never by subject", func(t *testing.T) {
		fams, body := s.metrics(t)
		metrics = body
		want := map[string]float64{}
		for _, r := range refused {
			if r.reason != "missing" {
				want[r.reason] += 2 // a GET and a POST each
			}
		}
		for reason, n := range want {
			if v := fams.Sum("fieldseal_auth_failures_total", map[string]string{"reason": reason}); v != n {
				t.Errorf("fieldseal_auth_failures_total{reason=%q} = %v, want %v", reason, v, n)
			}
		}
		if v := fams.Sum("fieldseal_auth_failures_total", map[string]string{"reason": "missing"}); v != 2 {
			t.Errorf(`fieldseal_auth_failures_total{reason="missing"} = %v, want 2`, v)
		}
		for _, series := range []map[string]string{
			{"caller": "ingest", "class": "email", "op": "seal", "result": "ok"},
			{"caller": "billing", "class": "email", "op": "open", "result": "ok"},
			{"caller": "billing", "class": "phone", "op": "mask", "result": "ok"},
			{"caller": "support", "class": "rrn", "op": "mask", "result": "ok"},
			{"caller": "default", "class": "email", "op": "keep", "result": "ok"},
		} {
			if v := fams.Sum("fieldseal_proxy_fields_total", series); v < 1 {
				t.Errorf("fieldseal_proxy_fields_total%v = %v, want at least 1", series, v)
			}
		}
		if !fams.Has("fieldseal_proxy_fields_total", map[string]string{"caller": "auditor"}) {
			t.Errorf("no fieldseal_proxy_fields_total series for caller auditor")
		}
		for _, secret := range append([]string{subBilling, subSupport, subIngest, subAuditor, subOther, "user-sub-"}, append(tokens, plaintexts...)...) {
			if strings.Contains(string(body), secret) {
				t.Errorf("/metrics holds a token subject, username, token or value: %q", secret)
			}
		}
	})
	if t.Failed() {
		t.Logf("metrics:\n%s", fieldsealMetrics(metrics))
	}

	t.Run("the upstream never received a plaintext value", func(t *testing.T) {
		all := allReceived(up)
		for _, p := range plaintexts {
			if bytes.Contains(all, []byte(p)) {
				t.Errorf("the upstream received plaintext %q", p)
			}
		}
	})

	s.Stop(t)

	raw, events := readAudit(t, s.AuditFile)
	t.Run("audit verify accepts the file of the run", func(t *testing.T) {
		out, stderr, code := s.verifyAudit(t, s.AuditFile)
		if code != 0 || !strings.Contains(out+stderr, ": ok") {
			t.Errorf("audit verify: exit %d: %s%s", code, out, stderr)
		}
	})

	t.Run("the audit file holds one event per protected request and the key events", func(t *testing.T) {
		n := countTypes(events)
		reqs, keyEvents := n["request"], n["key"]
		if want := int(s.requests.Load()); reqs != want {
			t.Errorf("%d request events, want %d (one per request sent)", reqs, want)
		}
		if keyEvents < 1 {
			t.Errorf("no key event (the key ring was loaded)")
		}
	})

	t.Run("the audit file holds no plaintext, token or subject", func(t *testing.T) {
		for _, p := range append(append(plaintexts, tokens...),
			subBilling, subSupport, subIngest, subAuditor, subOther, "user-sub-") {
			if bytes.Contains(raw, []byte(p)) {
				t.Errorf("the audit file holds %q", p)
			}
		}
	})

	t.Run("audit events record caller, actions, counts and outcome", func(t *testing.T) {
		find := func(caller, method, outcome string) *auditEvent {
			for i := range events {
				e := &events[i]
				if e.Type == "request" && e.Caller == caller && e.Method == method && e.Outcome == outcome {
					return e
				}
			}
			return nil
		}
		if e := find("ingest", http.MethodPost, "ok"); e == nil || e.Actions["email"] != "seal,sealed" || e.Fields["rrn"] < 1 || len(e.KeyIDs) == 0 || e.Route != "customers-write" {
			t.Errorf("ingest's POST: %+v", e)
		}
		if e := find("billing", http.MethodGet, "ok"); e == nil || e.Actions["email"] != "decrypt" || e.Actions["phone"] != "mask" || e.Actions["rrn"] != "sealed" {
			t.Errorf("billing's GET: %+v", e)
		}
		if e := find("auditor", http.MethodGet, "ok"); e == nil || e.Actions["rrn"] != "deny" {
			t.Errorf("auditor's GET: %+v", e)
		}
		if e := find("auditor", http.MethodPost, "denied"); e == nil || e.Status != http.StatusForbidden || e.Reason != "forbidden" {
			t.Errorf("auditor's refused POST: %+v", e)
		}
		if e := find("billing", http.MethodPut, "denied"); e == nil || e.Status != http.StatusUnprocessableEntity || e.Reason != "masked_value" {
			t.Errorf("billing's masked write-back: %+v", e)
		}
		var unauth []auditEvent
		for _, e := range events {
			if e.Type == "request" && e.Outcome == "unauthenticated" {
				unauth = append(unauth, e)
			}
		}
		if len(unauth) != 2*len(refused) {
			t.Errorf("%d unauthenticated events, want %d", len(unauth), 2*len(refused))
		}
		reasons := map[string]bool{}
		for _, e := range unauth {
			if e.Status != http.StatusUnauthorized {
				t.Errorf("unauthenticated event with status %d", e.Status)
			}
			reasons[e.Reason] = true
		}
		allReasons := true
		for _, r := range refused {
			allReasons = allReasons && reasons[r.reason]
		}
		if !allReasons {
			t.Errorf("audit reasons of the 401s = %v, want every auth reason of the refused requests", keys(reasons))
		}

	})

	t.Run("audit verify names the line of an edit, a deletion and a swap", func(t *testing.T) {
		lines := strings.SplitAfter(strings.TrimRight(string(raw), "\n"), "\n")
		if len(lines) < 6 {
			t.Fatalf("only %d audit lines", len(lines))
		}
		// An edit changes a request line's status; deletion and swap act on
		// the same place in the middle of the file.
		status := regexp.MustCompile(`"status":\d+`)
		mid := len(lines) / 2
		for mid < len(lines)-2 && !status.MatchString(lines[mid]) {
			mid++
		}
		edited := append([]string(nil), lines...)
		edited[mid] = status.ReplaceAllString(lines[mid], `"status":299`)
		deleted := append(append([]string(nil), lines[:mid]...), lines[mid+1:]...)
		swapped := append([]string(nil), lines...)
		swapped[mid], swapped[mid+1] = swapped[mid+1], swapped[mid]
		for _, tc := range []struct {
			name  string
			lines []string
			line  int // 1-based line verify must name
		}{
			{"an edited line is named", edited, mid + 1},
			{"the line after a deleted one is named", deleted, mid + 1},
			{"a swapped line is named", swapped, mid + 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "audit.log")
				if err := os.WriteFile(path, []byte(strings.Join(tc.lines, "")), 0o600); err != nil {
					t.Fatal(err)
				}
				out, stderr, code := s.verifyAudit(t, path)
				if code != 1 || !strings.Contains(out+stderr, fmt.Sprintf("line %d:", tc.line)) {
					t.Errorf("audit verify: exit %d, want 1 naming line %d: %s%s", code, tc.line, out, stderr)
				}
			})
		}
	})

	t.Run("the audit file is private to the sidecar's user", func(t *testing.T) {
		fi, err := os.Stat(s.AuditFile)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("audit file mode %v, want no access for group and others", mode)
		}
	})

	t.Run("a restarted sidecar continues the chain and verify still passes", func(t *testing.T) {
		s.Serve(t)
		if status, got, raw := s.do(t, http.MethodGet, "/customers/"+id, billing, ""); status != http.StatusOK || got["email"] != janeEmail {
			t.Errorf("read after restart: status %d: %s", status, raw)
		}
		s.Stop(t)
		after, events := readAudit(t, s.AuditFile)
		if !bytes.HasPrefix(after, raw) {
			t.Fatalf("the restarted writer rewrote earlier lines")
		}
		n := countTypes(events)
		starts, reqs := n["start"], n["request"]
		// Three writers started on this file: `keys init` (key
		// administration is audited too), the first serve and the restart.
		if starts != 3 || reqs != int(s.requests.Load()) {
			t.Errorf("%d start and %d request events, want 3 and %d", starts, reqs, s.requests.Load())
		}
		out, stderr, code := s.verifyAudit(t, s.AuditFile)
		if code != 0 || !strings.Contains(out, "3 writer starts") {
			t.Errorf("audit verify after restart: exit %d: %s%s", code, out, stderr)
		}
	})
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func errorMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// fieldsealMetrics is the fieldseal_ lines of a metrics page, for logs.
func fieldsealMetrics(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "fieldseal_") && !strings.Contains(l, "_bucket") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
