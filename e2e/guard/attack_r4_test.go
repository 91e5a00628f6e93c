package guard_test

// Round 4 attacks on the guard after the hot-path rewrite (one-pass
// scanner, in-place rewrite, pooled buffers, header fast path, sniffing).
// Each TestAttackR4* but TestAttackR4Held reproduces a way plaintext of a
// protected class reaches the application; TestAttackR4Held keeps what was
// tried and held.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

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

// A JSON body declared as an urlencoded form is read as a form (its one
// field name is the whole document, no class member) and forwarded as it
// came; an application that decodes JSON whatever the Content-Type stores
// the address. Declared JSON and other types are sniffed; the two form
// types are not.
func TestAttackR4FormTypedJSONBody(t *testing.T) {
	a := newApp(t, anyTypeJSONApp)
	sc := startApp(t, a, "")
	for _, ct := range []string{"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8"} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": ct},
			Body: []byte(`{"name":"mallory","email":"` + alice + `","phone":"` + phone + `"}`)})
		t.Logf("%s -> %d %s", ct, r.Status, r.Body)
	}
	a.mustNotHold(t, alice, phone)
}

// springParts reads a multipart body as Spring's @RequestPart (and NestJS,
// Jersey's @FormDataParam) binds it: a part whose own Content-Type is JSON
// is decoded as a JSON document.
func springParts(r *http.Request, body []byte) []string {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			return out
		}
		b, _ := io.ReadAll(p)
		if mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); isJSONType(mt) {
			out = append(out, anyTypeJSONApp(r, b)...)
		}
	}
}

func isJSONType(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// A multipart part that is a JSON document (Content-Type: application/json,
// no file name) under a name no class lists is copied as it is: the class
// members inside it reach the application in plaintext.
func TestAttackR4MultipartJSONPart(t *testing.T) {
	a := newApp(t, springParts)
	sc := startApp(t, a, "")
	body := "--B\r\nContent-Disposition: form-data; name=\"customer\"\r\nContent-Type: application/json\r\n\r\n" +
		`{"name":"mallory","email":"` + alice + `","contact":{"phone":"` + phone + `"}}` + "\r\n--B--\r\n"
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "multipart/form-data; boundary=B"}, Body: []byte(body)})
	t.Logf("%d %s", r.Status, r.Body)
	a.mustNotHold(t, alice, phone)
}

// commonsUpload reads a multipart body as Apache Commons FileUpload (and
// Tomcat's copy of it behind Spring's default, non-strict multipart
// resolver) does: any "multipart/" type is parsed, and its form-data parts
// become request parameters.
func commonsUpload(r *http.Request, body []byte) []string {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			return out
		}
		b, _ := io.ReadAll(p)
		if p.FormName() != "" {
			out = append(out, p.FormName()+"="+string(b))
		}
	}
}

// Only multipart/form-data is read as a form: the same parts under
// multipart/mixed (or related, alternative) are sniffed as "other", do not
// start like JSON and pass unread, while Commons FileUpload and Spring's
// default resolver take any multipart/ type.
func TestAttackR4MultipartOtherSubtype(t *testing.T) {
	a := newApp(t, commonsUpload)
	sc := startApp(t, a, "")
	body := "--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + alice + "\r\n--B--\r\n"
	for _, ct := range []string{"multipart/mixed; boundary=B", "multipart/related; boundary=B"} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": ct}, Body: []byte(body)})
		t.Logf("%s -> %d %s", ct, r.Status, r.Body)
	}
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if s == "email="+alice {
				t.Errorf("app read parameter %q from %s %q", s, rc.Header.Get("Content-Type"), rc.Body)
			}
		}
	}
}

// bodyOverride models Rack::MethodOverride (Rails, Sinatra: a "_method"
// field of a form POST) and Laravel (Symfony's _method read from the input
// bag, which Laravel fills from a JSON body too). It returns the strings of
// the body when the app routes the request to PUT /accounts/{id}.
func bodyOverride(r *http.Request, body []byte) []string {
	m := r.Method
	var strs []string
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		vals, _ := url.ParseQuery(string(body))
		if o := vals.Get("_method"); m == "POST" && o != "" {
			m = strings.ToUpper(o)
		}
		for k, vs := range vals {
			strs = append(append(strs, k), vs...)
		}
	} else {
		var v map[string]any
		_ = json.Unmarshal(body, &v)
		if o, _ := v["_method"].(string); m == "POST" && o != "" {
			m = strings.ToUpper(o)
		}
		strs = jsonStrings(nil, v)
	}
	if m == "PUT" && strings.HasPrefix(r.URL.Path, "/accounts/") {
		return strs
	}
	return nil
}

// Lookup reads the method from override headers and the _method query
// parameter, never from the body, where Rack and Laravel read it: a POST
// to a PUT-only route carrying _method=PUT is on no route to fieldseal,
// and the route-only path contact.value passes in plaintext.
func TestAttackR4MethodOverrideInBody(t *testing.T) {
	a := newApp(t, bodyOverride)
	sc := startApp(t, a, putOnly)
	for _, q := range []sidecartest.Req{
		{Method: "POST", Path: "/accounts/1", JSON: `{"_method":"PUT","contact":{"value":"` + hidden + `"}}`},
		{Method: "POST", Path: "/accounts/1", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			Body: []byte("_method=PUT&contact%5Bvalue%5D=" + hidden)},
	} {
		r := sc.Do(t, q)
		t.Logf("%s %s -> %d %s", q.Method, q.Path, r.Status, r.Body)
	}
	a.mustNotHold(t, hidden)
}

// Lookup reads the _method query parameter only when the whole query
// parses (url.ParseQuery returns an error for one bad escape or a ";"),
// while Express's qs keeps every other pair: POST /accounts/1?x=%zz&_method=PUT
// is PUT to the app and on no route to fieldseal.
func TestAttackR4MethodQueryWithBadPair(t *testing.T) {
	a := newApp(t, func(r *http.Request, b []byte) []string {
		r.URL.Path = strings.Replace(r.URL.Path, "/accounts/", "/customers/", 1)
		return expressOverride(r, b)
	})
	sc := startApp(t, a, putOnly)
	body := `{"contact":{"value":"` + hidden + `"}}`
	for _, path := range []string{"/accounts/1?x=%zz&_method=PUT", "/accounts/1?a;b=1&_method=PUT"} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: path, JSON: body})
		t.Logf("POST %s -> %d %s", path, r.Status, r.Body)
	}
	for _, rc := range a.received() {
		t.Logf("app got %s %s", rc.Method, rc.URI)
	}
	a.mustNotHold(t, hidden)
}

// Lookup keeps at most six override readings, headers first: six junk
// values in X-HTTP-Method-Override push the _method query parameter out,
// and an app overriding from the query (methodOverride('_method'), Rails)
// reads PUT.
func TestAttackR4MethodReadingsCapped(t *testing.T) {
	a := newApp(t, func(r *http.Request, b []byte) []string {
		r.URL.Path = strings.Replace(r.URL.Path, "/accounts/", "/customers/", 1)
		return expressOverride(r, b)
	})
	sc := startApp(t, a, putOnly)
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1?_method=PUT", Header: map[string]string{"X-HTTP-Method-Override": "A,B,C,D,E,F"},
		JSON: `{"contact":{"value":"` + hidden + `"}}`})
	t.Logf("-> %d %s", r.Status, r.Body)
	a.mustNotHold(t, hidden)
}

// Lookup reads the first field line of each override header; behind nginx,
// PHP-FPM keeps the last of two lines with the same name, and Symfony and
// Laravel then take it whole as the method. Two X-HTTP-Method-Override
// lines (GET, then PUT) route a POST to the PUT-only route unseen.
func TestAttackR4MethodOverrideSecondLine(t *testing.T) {
	a := newApp(t, func(r *http.Request, b []byte) []string {
		vs := r.Header.Values("X-Http-Method-Override")
		if r.Method != "POST" || len(vs) == 0 || vs[len(vs)-1] != "PUT" || !strings.HasPrefix(r.URL.Path, "/accounts/") {
			return nil
		}
		return anyTypeJSONApp(r, b)
	})
	sc := startApp(t, a, putOnly)
	req, err := http.NewRequest("POST", sc.URL+"/accounts/1", strings.NewReader(`{"contact":{"value":"`+hidden+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("X-HTTP-Method-Override", "GET")
	req.Header.Add("X-HTTP-Method-Override", "PUT")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	t.Logf("-> %d", resp.StatusCode)
	a.mustNotHold(t, hidden)
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

// encodedWordNames reads multipart field names as Commons FileUpload's
// ParameterParser does (Tomcat's copy serves Spring's multipart
// resolver): each Content-Disposition parameter value is passed through
// MimeUtility.decodeText, so an RFC 2047 encoded word is decoded.
func encodedWordNames(r *http.Request, body []byte) []string {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	dec := new(mime.WordDecoder)
	var out []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			return out
		}
		b, _ := io.ReadAll(p)
		name, err := dec.DecodeHeader(p.FormName())
		if err == nil {
			out = append(out, name+"="+string(b))
		}
	}
}

// A part named by an RFC 2047 encoded word ("=?UTF-8?B?ZW1haWw=?=" is
// "email") is no member to fieldseal, which compares the name as written,
// and is copied unsealed; Commons FileUpload decodes it to "email".
func TestAttackR4MultipartEncodedWordName(t *testing.T) {
	a := newApp(t, encodedWordNames)
	sc := startApp(t, a, "")
	for _, name := range []string{"=?UTF-8?B?ZW1haWw=?=", "=?UTF-8?Q?email?=", "=?ISO-8859-1?Q?e=6Dail?="} {
		body := "--B\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + alice + "\r\n--B--\r\n"
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "multipart/form-data; boundary=B"}, Body: []byte(body)})
		t.Logf("%s -> %d %s", name, r.Status, r.Body)
	}
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if s == "email="+alice {
				t.Errorf("app read parameter %q from %q", s, rc.Body)
			}
		}
	}
}

// phpPost reads an urlencoded body as PHP fills $_POST at the top level
// (php_register_variable_ex): the name is a C string (cut at a NUL byte),
// leading spaces are dropped, then ' ' and '.' become '_'.
func phpPost(_ *http.Request, body []byte) []string {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil
	}
	var out []string
	for k, vs := range vals {
		k, _, _ = strings.Cut(k, "\x00")
		k = strings.NewReplacer(" ", "_", ".", "_").Replace(strings.TrimLeft(k, " "))
		for _, v := range vs {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// A form field " email" or "email\x00x" is $_POST["email"] to PHP, which
// drops leading spaces and ends a name at NUL; the guard's PHP reading
// turns the space into '_' ("_email"), keeps the NUL, and never finds the
// member.
func TestAttackR4FormPHPNameReadings(t *testing.T) {
	a := newApp(t, phpPost)
	sc := startApp(t, a, "")
	for _, body := range []string{"+email=" + url.QueryEscape(alice), "%20%20email=" + url.QueryEscape(alice), "email%00x=" + url.QueryEscape(alice)} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: []byte(body)})
		t.Logf("%s -> %d %s", body, r.Status, r.Body)
	}
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if s == "email="+alice {
				t.Errorf("app read $_POST %q from %q", s, rc.Body)
			}
		}
	}
}

// encodedWordBoundary reads a multipart body as Commons FileUpload finds
// its boundary (FileUploadBase.getBoundary, through ParameterParser and so
// MimeUtility.decodeText): an RFC 2047 encoded word is decoded first.
func encodedWordBoundary(r *http.Request, body []byte) []string {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil
	}
	boundary, err := new(mime.WordDecoder).DecodeHeader(params["boundary"])
	if err != nil {
		return nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			return out
		}
		b, _ := io.ReadAll(p)
		out = append(out, p.FormName()+"="+string(b))
	}
}

// A boundary written as an encoded word ("=?UTF-8?Q?X?=") is that literal
// string to Go's multipart reader and "X" to Commons FileUpload: parts
// delimited by "--X" sit inside a part the guard copies as content, and
// Commons reads them as fields.
func TestAttackR4MultipartEncodedWordBoundary(t *testing.T) {
	a := newApp(t, encodedWordBoundary)
	sc := startApp(t, a, "")
	const b = "=?UTF-8?Q?X?="
	body := "--" + b + "\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n" +
		"--X\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + alice + "\r\n--X--\r\n" +
		"--" + b + "--\r\n"
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": `multipart/form-data; boundary="` + b + `"`}, Body: []byte(body)})
	t.Logf("-> %d %s", r.Status, r.Body)
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if s == "email="+alice {
				t.Errorf("app read field %q from %q", s, rc.Body)
			}
		}
	}
}

// A multipart member part is read whole into memory (up to
// max_body_bytes) outside the buffered-bytes budget: with a 1 MiB budget a
// 2 MiB JSON body gets 503 busy, a 2 MiB member part is held and
// forwarded. Many such requests together hold N x max_body_bytes, past
// max_buffered_bytes (memory follows bytes received, not the budget).
func TestAttackR4MultipartPartOutsideBudget(t *testing.T) {
	a := newApp(t, nil)
	sc := startApp(t, a, "limits:\n  max_body_bytes: 4MiB\n  max_buffered_bytes: 1MiB\n")
	big := strings.Repeat("a", 2<<20)
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", JSON: `{"email":"` + big + `"}`})
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("a 2 MiB JSON body over a 1 MiB budget: %d %.200s", r.Status, r.Body)
	}
	body := "--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + big + "\r\n--B--\r\n"
	r = sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "multipart/form-data; boundary=B"}, Body: []byte(body)})
	// The part streams: the upstream request has begun when the budget
	// runs out, and its body then breaks (the app never reads a whole
	// request, nor the part); the client gets 503 busy.
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("a 2 MiB member part over a 1 MiB budget: %d %.200s (a part held outside the budget)", r.Status, r.Body)
	}
	for _, rc := range a.received() {
		if bytes.Contains(rc.Body, []byte(big[:4096])) {
			t.Errorf("the app received %d bytes holding the part: a 2 MiB member part was held outside a 1 MiB budget", len(rc.Body))
		}
	}
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

// backslashApp routes as IIS/ASP.NET do, reading "\" in the decoded path as
// "/", and decodes the JSON body of PUT /customers/{id}.
func backslashApp(r *http.Request, body []byte) []string {
	p := strings.ReplaceAll(r.URL.Path, `\`, "/")
	if !strings.HasPrefix(strings.ToLower(p), "/customers/") {
		return nil
	}
	return anyTypeJSONApp(r, body)
}

// A path that reaches /customers/{id} only once "\" is read as "/" is on
// no route to fieldseal: the route-only path contact.value (a class with
// no keys) passes in plaintext.
func TestAttackR4BackslashPath(t *testing.T) {
	a := newApp(t, backslashApp)
	sc := startApp(t, a, "")
	for _, path := range []string{`/customers%5C1`, `/customers\1`} {
		r := sc.Do(t, sidecartest.Req{Method: "PUT", Path: path, JSON: `{"contact":{"value":"` + hidden + `"}}`})
		t.Logf("%s -> %d %s", path, r.Status, r.Body)
	}
	a.mustNotHold(t, hidden)
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
