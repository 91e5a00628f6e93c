package guard_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// Reproductions from attacking this round's guard changes (round 3,
// adversary 2), through the real binary.

// A1: a body not declared JSON is sniffed from its first 512 bytes only.
// After 512 bytes of JSON white space the sniff sees no '{' and forwards
// the body as it came; a Go handler (json.NewDecoder whatever the
// Content-Type) skips the white space and stores the email in plaintext.
func TestAttackSniffLongLeadingSpace(t *testing.T) {
	a := newApp(t, goDecoderApp)
	sc := startApp(t, a, "")
	doc := `{"email":"` + alice + `"}`
	for _, q := range []struct {
		ct, lead string
	}{
		{"", strings.Repeat(" ", 600)},
		{"text/plain", strings.Repeat("\r\n", 300)},
		{"application/octet-stream", "\xEF\xBB\xBF" + strings.Repeat("\t", 1024)},
	} {
		req := sidecartest.Req{Method: "POST", Path: "/signup", Body: []byte(q.lead + doc)}
		if q.ct != "" {
			req.Header = map[string]string{"Content-Type": q.ct}
		}
		r := sc.Do(t, req)
		t.Logf("type %q, %d leading bytes -> %d %.120s", q.ct, len(q.lead), r.Status, r.Body)
	}
	a.mustNotHold(t, alice)
}

// A2: a wildcard route path is compared after strings.ToLower, which
// leaves U+017F LATIN SMALL LETTER LONG S as it is; encoding/json folds
// it onto 's' and binds "ſſn_home" to the field tagged ssn_home.
func TestAttackWildcardPathLongS(t *testing.T) {
	a := newApp(t, func(r *http.Request, body []byte) []string {
		var v struct {
			SSNHome string `json:"ssn_home"`
		}
		if json.Unmarshal(body, &v) != nil {
			return nil
		}
		return []string{v.SSNHome}
	})
	sc := startApp(t, a, `
  - name: ids
    methods: [POST]
    paths: [/ids]
    request: [ {path: "ssn_*", class: secret} ]
`)
	const ssn = "123-45-6789"
	for _, key := range []string{"ssn_home", "SSN_HOME", "\u017f\u017fn_home"} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/ids", JSON: `{"` + key + `":"` + ssn + `"}`})
		t.Logf("%q -> %d %.120s", key, r.Status, r.Body)
	}
	if n := len(a.received()); n != 3 {
		t.Fatalf("the app got %d requests, want 3", n)
	}
	a.mustNotHold(t, ssn)
}
