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

// lenientUTF8 decodes UTF-8 the way Jackson's UTF8StreamJsonParser does
// (_decodeUtf8_2/_3 check only the continuation bytes): an overlong form
// such as C1 AC decodes to the ASCII letter it encodes ('l').
func lenientUTF8(b []byte) string {
	var out []rune
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c < 0x80:
			out = append(out, rune(c))
		case c&0xE0 == 0xC0 && i+1 < len(b) && b[i+1]&0xC0 == 0x80:
			out = append(out, rune(c&0x1F)<<6|rune(b[i+1]&0x3F))
			i++
		case c&0xF0 == 0xE0 && i+2 < len(b) && b[i+1]&0xC0 == 0x80 && b[i+2]&0xC0 == 0x80:
			out = append(out, rune(c&0x0F)<<12|rune(b[i+1]&0x3F)<<6|rune(b[i+2]&0x3F))
			i += 2
		default:
			out = append(out, '\uFFFD')
		}
	}
	return string(out)
}

// A3: the scanner does not check UTF-8 (as gjson's validator did not), so
// a member name spelled with an overlong UTF-8 form ("emai" C1 AC) is not
// the class key "email" to fieldseal, while a parser that decodes overlong
// forms (Jackson's byte parser, modelled by lenientUTF8) reads "email" and
// stores the value in plaintext. RFC 8259 section 8.1 requires UTF-8.
func TestAttackOverlongUTF8MemberName(t *testing.T) {
	a := newApp(t, func(r *http.Request, body []byte) []string {
		var v map[string]any
		if json.Unmarshal([]byte(lenientUTF8(body)), &v) != nil {
			return nil
		}
		var out []string
		for k, x := range v {
			if s, ok := x.(string); ok && k == "email" {
				out = append(out, s)
			}
		}
		return out
	})
	sc := startApp(t, a, "")
	for _, body := range []string{
		"{\"emai\xC1\xAC\":\"" + alice + "\"}",
		"{\"\xE0\x81\xA5mail\":\"" + alice + "\"}",
	} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(body)})
		t.Logf("%q -> %d %.120s", body, r.Status, r.Body)
	}
	for _, r := range a.received() {
		for _, s := range r.Strings {
			if s == alice {
				t.Errorf("the application read member email = %q from %q", s, r.Body)
			}
		}
	}
}
