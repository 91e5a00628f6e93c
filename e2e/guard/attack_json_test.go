package guard_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// F1: route paths are matched case-sensitively, while encoding/json binds
// {"CONTACT":{"VALUE":..}} to Contact.Value.
func TestAttackRoutePathCase(t *testing.T) {
	store, sc := start(t, sidecartest.GoJSON, "")
	resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"CONTACT":{"VALUE":"` + hidden + `"},"Address":{"Street":"1 Main st"}}`})
	t.Logf("status %d %s", resp.Status, resp.Body)
	store.MustNotHold(t, hidden)
}

// F2: the sealed-prefix scan compares the raw (escaped) string, so a sealed
// value written as "\u0066s1:..." in a free-text member is not refused; the
// app stores "fs1:...", and any read opens it (decryption oracle).
func TestAttackEscapedSealedPrefixOracle(t *testing.T) {
	store, sc := start(t, sidecartest.GoJSON, "")
	if r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"email":"` + alice + `"}`}); r.Status != 201 {
		t.Fatalf("create %d %s", r.Status, r.Body)
	}
	sealed, _ := store.Record("1")["email"].(string)
	if !strings.HasPrefix(sealed, "fs1:") {
		t.Fatalf("stored %q", sealed)
	}
	esc := `\u0066` + sealed[1:]
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"name":"mallory","note":"` + esc + `"}`})
	t.Logf("write with escaped prefix: %d %s", r.Status, r.Body)
	r = sc.Do(t, sidecartest.Req{Method: "GET", Path: "/customers/2"})
	t.Logf("read back: %d %s", r.Status, r.Body)
	if bytes.Contains(r.Body, []byte(alice)) {
		t.Fatalf("a copied sealed value was accepted on write and opened on read: %s", r.Body)
	}
}

// F2b: the same oracle through an urlencoded form (no sealed-prefix check on
// non-member form fields at all).
func TestAttackFormSealedOracle(t *testing.T) {
	store, sc := start(t, sidecartest.Express, "")
	if r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"email":"` + alice + `"}`}); r.Status != 201 {
		t.Fatalf("create %d %s", r.Status, r.Body)
	}
	sealed, _ := store.Record("1")["email"].(string)
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/v1/customers", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		Body: []byte("name=mallory&note=" + sealed)})
	t.Logf("form write: %d %s", r.Status, r.Body)
	r = sc.Do(t, sidecartest.Req{Method: "GET", Path: "/customers/2"})
	t.Logf("read back: %d %s", r.Status, r.Body)
	if bytes.Contains(r.Body, []byte(alice)) {
		t.Fatalf("a sealed value copied through a form was opened on read: %s", r.Body)
	}
}

// goDecoderApp reads JSON the common Go way: json.NewDecoder(r.Body).Decode,
// whatever the Content-Type, which ignores what follows the first value.
func goDecoderApp(r *http.Request, body []byte) []string {
	var v map[string]any
	if i := bytes.Index(body, []byte("*/")); bytes.HasPrefix(body, []byte("/*")) && i > 0 {
		body = body[i+2:] // JSON5 / lenient parsers: a leading comment
	}
	if json.NewDecoder(bytes.NewReader(body)).Decode(&v) != nil {
		return nil
	}
	var out []string
	for k, x := range v {
		s, _ := x.(string)
		out = append(out, k, s)
	}
	return out
}

// F3: a body that starts like JSON but is not valid JSON to gjson (trailing
// bytes) is forwarded as it came on the sniff path.
func TestAttackSniffTrailingBytes(t *testing.T) {
	a := newApp(t, goDecoderApp)
	sc := startApp(t, a, "")
	for _, body := range []string{`{"email":"` + alice + `"} x`, `{"email":"` + alice + `"}{}`, `{"email":"` + alice + `"}]`, `/**/{"email":"` + alice + `"}`} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Body: []byte(body)})
		t.Logf("%q -> %d %s", body, r.Status, r.Body)
	}
	a.mustNotHold(t, alice)
}

// lenientCT parses a Content-Type like Node's content-type / media-typer:
// duplicate parameters allowed, the last one wins.
func lenientCT(ct string) (string, map[string]string) {
	parts := strings.Split(ct, ";")
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return strings.ToLower(strings.TrimSpace(parts[0])), params
}

// expressJSON is body-parser's json(): type application/json, inflate
// gzip, any charset starting "utf-" (iconv-lite; utf-7 decoded here).
func expressJSON(r *http.Request, body []byte) []string {
	mt, params := lenientCT(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return nil
	}
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil
		}
		body, _ = io.ReadAll(zr)
	}
	if cs := strings.ToLower(params["charset"]); cs == "utf-7" {
		body = []byte(decodeUTF7(string(body)))
	}
	return goDecoderApp(r, body)
}

// decodeUTF7 decodes RFC 2152 "+...-" runs (enough for the test).
func decodeUTF7(s string) string {
	re := regexp.MustCompile(`\+([A-Za-z0-9+/]*)-?`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		b64 := strings.TrimSuffix(strings.TrimPrefix(m, "+"), "-")
		if b64 == "" {
			return "+"
		}
		const al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		var bits, n uint
		var u []uint16
		var cur uint32
		for _, c := range b64 {
			cur = cur<<6 | uint32(strings.IndexRune(al, c))
			bits += 6
			n++
			if bits >= 16 {
				u = append(u, uint16(cur>>(bits-16)))
				bits -= 16
				cur &= (1 << bits) - 1
			}
		}
		return string(utf16.Decode(u))
	})
}

// F4: a JSON Content-Type Go's mime parser refuses (a duplicate parameter)
// but Node's accepts sends the body down the sniff path: the charset is not
// checked and a compressed body is not looked into.
func TestAttackMalformedJSONContentType(t *testing.T) {
	a := newApp(t, expressJSON)
	sc := startApp(t, a, "")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"email":"` + alice + `"}`))
	_ = zw.Close()
	_, _, err := mime.ParseMediaType("application/json; charset=utf-8; charset=utf8")
	t.Logf("Go mime on the duplicate parameter: %v", err)
	reqs := []sidecartest.Req{
		{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "application/json; charset=utf-8; charset=utf8", "Content-Encoding": "gzip"}, Body: gz.Bytes()},
		{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "application/json; charset=utf-8; charset=utf-7"}, Body: []byte(`{"+AGU-mail":"alice+AEA-example.com"}`)},
	}
	for _, q := range reqs {
		r := sc.Do(t, q)
		t.Logf("%s -> %d %s", q.Header["Content-Type"], r.Status, r.Body)
	}
	a.mustNotHold(t, alice)
}

// Reproductions from attacking the guard changes of round 3 (adversary
// 2), through the real binary.

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

// anyTypeJSONApp decodes every body as JSON whatever its Content-Type, as
// a Go handler calling json.NewDecoder(r.Body).Decode does, and Express's
// express.json({type: '*/*'}).
func anyTypeJSONApp(_ *http.Request, body []byte) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	return jsonStrings(nil, v)
}

func jsonStrings(out []string, v any) []string {
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case map[string]any:
		for k, e := range v {
			out = jsonStrings(append(out, k), e)
		}
	case []any:
		for _, e := range v {
			out = jsonStrings(out, e)
		}
	}
	return out
}

// javaEqualsIgnoreCase is Java's String.equalsIgnoreCase: two chars are
// equal when equal, or equal upper-cased, or equal lower-cased after
// upper-casing. It equates the dotless 'ı' and the dotted 'İ' with 'i',
// which Unicode simple case folding (Go's encoding/json) does not.
func javaEqualsIgnoreCase(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		x, y := ra[i], rb[i]
		if x == y {
			continue
		}
		ux, uy := unicode.ToUpper(x), unicode.ToUpper(y)
		if ux != uy && unicode.ToLower(ux) != unicode.ToLower(uy) {
			return false
		}
	}
	return true
}

// equalsIgnoreCaseApp binds top-level members to its fields by Java's
// equalsIgnoreCase, as JSON-B (Yasson) does under
// PropertyNamingStrategy.CASE_INSENSITIVE (Jackson's case-insensitive
// properties match the same names on a JVM whose default locale is tr or
// az, where "EMAİL".toLowerCase() is "email").
func equalsIgnoreCaseApp(_ *http.Request, body []byte) []string {
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	for k, e := range v {
		for _, field := range []string{"email", "phone", "mobile"} {
			if s, ok := e.(string); ok && javaEqualsIgnoreCase(k, field) {
				out = append(out, s)
			}
		}
	}
	return out
}

// Member names are matched under Unicode simple case folding: "emaıl"
// (dotless i) and "EMAİL" (dotted capital I) are not "email" to the guard,
// and pass unsealed to an application binding them by equalsIgnoreCase.
func TestAttackR4TurkishIMemberNames(t *testing.T) {
	a := newApp(t, equalsIgnoreCaseApp)
	sc := startApp(t, a, "")
	for _, doc := range []string{`{"emaıl":"` + alice + `"}`, `{"EMAİL":"` + alice + `"}`, `{"mobİle":"` + phone + `"}`} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", JSON: doc})
		t.Logf("%s -> %d %s", doc, r.Status, r.Body)
	}
	a.mustNotHold(t, alice, phone)
}

// lastContentTypeForm reads the body as a form when the last Content-Type
// line says so, as WSGI servers such as gunicorn build CONTENT_TYPE (each
// line overwrites the one before).
func lastContentTypeForm(r *http.Request, body []byte) []string {
	cts := r.Header.Values("Content-Type")
	if len(cts) == 0 || cts[len(cts)-1] != "application/x-www-form-urlencoded" {
		return nil
	}
	vals, _ := url.ParseQuery(string(body))
	var out []string
	for k, vs := range vals {
		out = append(append(out, k), vs...)
	}
	return out
}

// Two Content-Type lines are refused, unless the first is empty: the body
// is then "other", sniffed, and a form (not JSON) passes unread to an
// application that takes the last line.
func TestAttackR4EmptyFirstContentType(t *testing.T) {
	a := newApp(t, lastContentTypeForm)
	sc := startApp(t, a, "")
	req, err := http.NewRequest("POST", sc.URL+"/signup", strings.NewReader("name=mallory&email="+url.QueryEscape(alice)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header["Content-Type"] = []string{"", "application/x-www-form-urlencoded"}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	t.Logf("-> %d", resp.StatusCode)
	for _, rc := range a.received() {
		t.Logf("app got Content-Type %q", rc.Header.Values("Content-Type"))
	}
	a.mustNotHold(t, alice)
}

// jsonSeqApp reads an RFC 7464 JSON text sequence: each record starts with
// RS (0x1E) and holds one JSON text.
func jsonSeqApp(r *http.Request, body []byte) []string {
	var out []string
	for _, rec := range bytes.Split(body, []byte{0x1E}) {
		out = append(out, anyTypeJSONApp(r, bytes.TrimSpace(rec))...)
	}
	return out
}

// A JSON text sequence (application/json-seq) starts with RS, which the
// sniff does not skip: the body does not start like JSON and is forwarded
// unread.
func TestAttackR4JSONSeqRecordSeparator(t *testing.T) {
	a := newApp(t, jsonSeqApp)
	sc := startApp(t, a, "")
	body := "\x1e{\"email\":\"" + alice + "\"}\n\x1e{\"phone\":\"" + phone + "\"}\n"
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "application/json-seq"}, Body: []byte(body)})
	t.Logf("%d %s", r.Status, r.Body)
	a.mustNotHold(t, alice, phone)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func u16le(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

// TestAttackR4Held keeps the attacks of this round that the guard held:
// the store must hold no plaintext after each.
func TestAttackR4Held(t *testing.T) {
	doc := `{"email":"` + alice + `"}`
	secret := `{"contact":{"value":"` + alice + `"}}`
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	cases := map[string]sidecartest.Req{
		"long s folding":         {Method: "POST", Path: "/profile", JSON: `{"ſtreet":"` + alice + `","emailAddreſſ":"` + alice + `"}`},
		"duplicates and case":    {Method: "POST", Path: "/profile", JSON: `{"email":"x","email":"` + alice + `","EMAIL":"` + alice + `"}`},
		"number value":           {Method: "POST", Path: "/profile", JSON: `{"phone":"x","mobile":` + "821012345678" + `}`},
		"gzip under text/plain":  {Method: "POST", Path: "/profile", Header: map[string]string{"Content-Type": "text/plain", "Content-Encoding": "gzip"}, Body: gz([]byte(doc))},
		"gzip, gzip json":        {Method: "POST", Path: "/profile", Header: map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"}, Body: gz(gz([]byte(doc)))},
		"form escaped name":      {Method: "POST", Path: "/profile", Header: form, Body: []byte("e%6Dail=" + alice)},
		"form nested name":       {Method: "POST", Path: "/profile", Header: form, Body: []byte("user%5Bemail%5D=" + alice)},
		"deep arrays":            {Method: "POST", Path: "/profile", JSON: strings.Repeat("[", 30) + doc + strings.Repeat("]", 30)},
		"nested array objects":   {Method: "POST", Path: "/profile", JSON: `[{"x":{"y":[{"Email":"` + alice + `"}]}}]`},
		"white space text/plain": {Method: "POST", Path: "/profile", Header: map[string]string{"Content-Type": "text/plain"}, Body: []byte("\r\n\t " + doc)},
		"chunked text/plain":     {Method: "POST", Path: "/profile", Header: map[string]string{"Content-Type": "text/plain", "Transfer-Encoding": "chunked"}, Body: []byte(doc)},
		"empty parameter list":   {Method: "POST", Path: "/profile", Header: map[string]string{"Content-Type": "application/json;"}, Body: []byte(doc)},
		"two media types":        {Method: "POST", Path: "/profile", Header: map[string]string{"Content-Type": "application/json, text/plain"}, Body: []byte(doc)},
		"GET with a body":        {Method: "GET", Path: "/customers/1", Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(doc)},
		"utf-16 undeclared":      {Method: "POST", Path: "/profile", Header: map[string]string{"Content-Type": "application/json"}, Body: u16le(doc)},
		"5001 members in place":  {Method: "POST", Path: "/profile", JSON: "[" + strings.Repeat(`{"email":"a@b.c","n":1},`, 5000) + doc + "]"},
		"double slash":           {Method: "POST", Path: "//customers", JSON: secret},
		"double slash id":        {Method: "PUT", Path: "/customers//1", JSON: secret},
		"escaped letter":         {Method: "POST", Path: "/%63ustomers", JSON: secret},
		"tab in id":              {Method: "PUT", Path: "/customers/1%09", JSON: secret},
		"multipart no delimiter": {Method: "POST", Path: "/profile", Header: map[string]string{"Content-Type": "multipart/form-data; boundary=xyz"}, Body: []byte(doc)},
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			store, sc := start(t, sidecartest.GoJSON, "")
			r := sc.Do(t, req)
			t.Logf("%d %.120s", r.Status, r.Body)
			store.MustNotHold(t, alice)
		})
	}
}
