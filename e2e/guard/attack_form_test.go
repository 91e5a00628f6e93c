package guard_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// The Content-Types of the forms these tests post: an urlencoded form, and
// a multipart form under the boundary onePart writes.
const (
	formType  = "application/x-www-form-urlencoded"
	formDataB = "multipart/form-data; boundary=B"
)

// signup posts body to the application's /signup through sc as the
// Content-Type ct and logs the answer after label. The tests judge what
// the application read (mustNotHold, mustNotRead), not the answer.
func signup(t *testing.T, sc *sidecartest.Sidecar, ct, body, label string) {
	t.Helper()
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": ct}, Body: []byte(body)})
	t.Logf("%s -> %d %s", label, r.Status, r.Body)
}

// onePart is a multipart body under the boundary B with one part: its
// header lines (CRLF between them) and its content.
func onePart(header, content string) string {
	return "--B\r\n" + header + "\r\n\r\n" + content + "\r\n--B--\r\n"
}

// servletForm reads an urlencoded body as Tomcat's Parameters does: split
// on '&' and '=' in the raw bytes, percent-decode, then decode the bytes in
// the request's declared charset (UTF-16BE here).
func servletForm(r *http.Request, body []byte) []string {
	_, params := lenientCT(r.Header.Get("Content-Type"))
	var out []string
	for _, f := range strings.Split(string(body), "&") {
		k, v, _ := strings.Cut(f, "=")
		for _, x := range []string{k, v} {
			b, err := url.QueryUnescape(x)
			if err != nil {
				continue
			}
			if strings.EqualFold(params["charset"], "utf-16") && len(b)%2 == 0 {
				u := make([]uint16, len(b)/2)
				for i := range u {
					u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
				}
				b = string(utf16.Decode(u))
			}
			out = append(out, b)
		}
	}
	return out
}

func pctUTF16(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%%%02X%%%02X", byte(u>>8), byte(u))
	}
	return b.String()
}

// F5: the charset of an urlencoded body is never checked; a servlet
// container decodes names and values in it.
func TestAttackFormCharset(t *testing.T) {
	a := newApp(t, servletForm)
	sc := startApp(t, a, "")
	body := pctUTF16("email") + "=" + pctUTF16(alice)
	signup(t, sc, formType+"; charset=UTF-16", body, "UTF-16 form")
	a.mustNotHold(t, alice)
}

// mangledForm models PHP's $_POST name mangling ('.', ' ' and an unclosed '['
// become '_') and Spring's WebDataBinder ("!field" default marker, dotted
// nested property paths): it reports the value under the name the app binds.
func mangledForm(_ *http.Request, body []byte) []string {
	return formPairs(body, func(k string) string {
		n := strings.NewReplacer(".", "_", " ", "_", "[", "_").Replace(k)
		n = strings.TrimPrefix(n, "!")
		if i := strings.LastIndexByte(n, '_'); strings.HasPrefix(k, "contact.") && i >= 0 {
			n = n[i+1:]
		}
		return n
	})
}

// F6: form names that PHP / Spring normalise onto a class key.
func TestAttackFormNameNormalisation(t *testing.T) {
	a := newApp(t, mangledForm)
	sc := startApp(t, a, "")
	for _, name := range []string{"e.mail", "e mail", "e[mail", "!email", "contact.email"} {
		body := url.QueryEscape(name) + "=" + url.QueryEscape(alice)
		signup(t, sc, formType, body, fmt.Sprintf("%q", name))
	}
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if strings.HasSuffix(s, "="+alice) {
				t.Errorf("app bound %q", s)
			}
		}
	}
}

var nameRe = regexp.MustCompile(`(?i)name="?([^";]*)`)

// lenientMultipart reads parts the way prefix-matching parsers (PHP's
// rfc1867 reader, many hand-written ones) do: a line starting "--boundary"
// is a delimiter, and the name is found by a regular expression.
func lenientMultipart(r *http.Request, body []byte) []string {
	_, params := lenientCT(r.Header.Get("Content-Type"))
	delim := []byte("\r\n--" + params["boundary"])
	var out []string
	for _, part := range bytes.Split(append([]byte("\r\n"), body...), delim)[1:] {
		if i := bytes.Index(part, []byte("\r\n")); i >= 0 {
			part = part[i+2:]
		}
		hdr, content, ok := bytes.Cut(part, []byte("\r\n\r\n"))
		if !ok {
			continue
		}
		m := nameRe.FindSubmatch(hdr)
		if m == nil {
			continue
		}
		out = append(out, string(m[1])+"="+string(content))
	}
	return out
}

// F7: multipart parts fieldseal cannot name (a Content-Disposition Go's
// mime refuses) are copied unsealed; a delimiter with a suffix is content
// to Go, a delimiter to prefix-matching parsers.
func TestAttackMultipartReadDifferently(t *testing.T) {
	a := newApp(t, lenientMultipart)
	sc := startApp(t, a, "")
	bodies := []string{
		onePart(`Content-Disposition: form-data; name="email"; name="email"`, alice),
		onePart(`Content-Disposition: form-data; name="email"; x`, alice),
		"--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--BX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + alice + "\r\n--B--\r\n",
	}
	for _, b := range bodies {
		signup(t, sc, formDataB, b, fmt.Sprintf("%q", b))
	}
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if strings.HasPrefix(s, "email=") && strings.Contains(s, alice) {
				t.Errorf("app read part %q from %q", s, rc.Body)
			}
		}
	}
}

// A JSON body declared as an urlencoded form is read as a form (its one
// field name is the whole document, no class member) and forwarded as it
// came; an application that decodes JSON whatever the Content-Type stores
// the address. Declared JSON and other types are sniffed; the two form
// types are not.
func TestAttackR4FormTypedJSONBody(t *testing.T) {
	a := newApp(t, anyTypeJSONApp)
	sc := startApp(t, a, "")
	for _, ct := range []string{formType, formType + "; charset=utf-8"} {
		signup(t, sc, ct, `{"name":"mallory","email":"`+alice+`","phone":"`+phone+`"}`, ct)
	}
	a.mustNotHold(t, alice, phone)
}

// formApp reads an urlencoded body as every form framework does (PHP's
// $_POST, Rack, servlet parameters, Express's urlencoded parser).
func formApp(r *http.Request, body []byte) []string {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != formType {
		return nil
	}
	return formPairs(body, func(k string) string { return k })
}

// formPairs returns each field of an urlencoded body as "name=value", the
// name passed through name first; a body url.ParseQuery refuses gives none.
func formPairs(body []byte, name func(string) string) []string {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil
	}
	var out []string
	for k, vs := range vals {
		k = name(k)
		for _, v := range vs {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// A form body that also parses as JSON is sealed as JSON only: the JSON
// string `1&email=...&y=` holds no member, but read as the form it is
// declared, the same bytes carry the field email with the address.
func TestAttackR4bFormThatIsAlsoJSON(t *testing.T) {
	a := newApp(t, formApp)
	sc := startApp(t, a, "")
	for _, body := range []string{
		`{"x":"1&email=` + url.QueryEscape(alice) + `&y="}`,
		`["&email=` + url.QueryEscape(alice) + `&"]`,
	} {
		signup(t, sc, formType, body, body)
	}
	a.mustNotRead(t, "form field", "email="+alice)
}

// phpPost reads an urlencoded body as PHP fills $_POST at the top level
// (php_register_variable_ex): the name is a C string (cut at a NUL byte),
// leading spaces are dropped, then ' ' and '.' become '_'.
func phpPost(_ *http.Request, body []byte) []string {
	return formPairs(body, func(k string) string {
		k, _, _ = strings.Cut(k, "\x00")
		return strings.NewReplacer(" ", "_", ".", "_").Replace(strings.TrimLeft(k, " "))
	})
}

// A form field " email" or "email\x00x" is $_POST["email"] to PHP, which
// drops leading spaces and ends a name at NUL; the guard's PHP reading
// turns the space into '_' ("_email"), keeps the NUL, and never finds the
// member.
func TestAttackR4FormPHPNameReadings(t *testing.T) {
	a := newApp(t, phpPost)
	sc := startApp(t, a, "")
	for _, body := range []string{"+email=" + url.QueryEscape(alice), "%20%20email=" + url.QueryEscape(alice), "email%00x=" + url.QueryEscape(alice)} {
		signup(t, sc, formType, body, body)
	}
	a.mustNotRead(t, "$_POST", "email="+alice)
}

// eachPart reads a multipart body as Go's mime/multipart does, calling fn
// with each part and its content in order; it stops at the first part
// that does not parse (or at the end), as the framework readers modelled
// here give up on a broken body.
func eachPart(body []byte, boundary string, fn func(p *multipart.Part, content []byte)) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(p)
		fn(p, b)
	}
}

// requestParts is eachPart over the body of r, under the boundary its
// Content-Type names; a Content-Type mime.ParseMediaType refuses gives no
// parts, as the framework readers modelled here give up on it.
func requestParts(r *http.Request, body []byte, fn func(p *multipart.Part, content []byte)) {
	if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
		eachPart(body, params["boundary"], fn)
	}
}

// formParts returns each part of a multipart body as "name=content", the
// name as Go's Part.FormName reads it.
func formParts(body []byte, boundary string) []string {
	var out []string
	eachPart(body, boundary, func(p *multipart.Part, b []byte) {
		out = append(out, p.FormName()+"="+string(b))
	})
	return out
}

// springParts reads a multipart body as Spring's @RequestPart (and NestJS,
// Jersey's @FormDataParam) binds it: a part whose own Content-Type is JSON
// is decoded as a JSON document.
func springParts(r *http.Request, body []byte) []string {
	var out []string
	requestParts(r, body, func(p *multipart.Part, b []byte) {
		if mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); isJSONType(mt) {
			out = append(out, anyTypeJSONApp(r, b)...)
		}
	})
	return out
}

func isJSONType(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// A multipart part that is a JSON document (Content-Type: application/json,
// no file name) under a name no class lists is copied as it is: the class
// members inside it reach the application in plaintext.
func TestAttackR4MultipartJSONPart(t *testing.T) {
	a := newApp(t, springParts)
	sc := startApp(t, a, "")
	body := onePart("Content-Disposition: form-data; name=\"customer\"\r\nContent-Type: application/json",
		`{"name":"mallory","email":"`+alice+`","contact":{"phone":"`+phone+`"}}`)
	signup(t, sc, formDataB, body, "JSON part")
	a.mustNotHold(t, alice, phone)
}

// A JSON part declared as a file (filename=) is copied as it is: only
// parts without a file name are read as JSON documents. Spring's
// @RequestPart binds a part to an object by its Content-Type whatever its
// file name, and a browser's FormData.append(name, new Blob([json],
// {type: "application/json"})) always sends filename="blob".
func TestAttackR4bJSONPartWithFileName(t *testing.T) {
	a := newApp(t, springParts)
	sc := startApp(t, a, "")
	for _, fn := range []string{"blob", "customer.json"} {
		body := onePart("Content-Disposition: form-data; name=\"customer\"; filename=\""+fn+"\"\r\nContent-Type: application/json",
			`{"name":"mallory","email":"`+alice+`","contact":{"phone":"`+phone+`"}}`)
		signup(t, sc, formDataB, body, "filename "+fn)
	}
	a.mustNotHold(t, alice, phone)
}

// commonsUpload reads a multipart body as Apache Commons FileUpload (and
// Tomcat's copy of it behind Spring's default, non-strict multipart
// resolver) does: any "multipart/" type is parsed, and its form-data parts
// become request parameters.
func commonsUpload(r *http.Request, body []byte) []string {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); !strings.HasPrefix(mt, "multipart/") {
		return nil
	}
	var out []string
	requestParts(r, body, func(p *multipart.Part, b []byte) {
		if p.FormName() != "" {
			out = append(out, p.FormName()+"="+string(b))
		}
	})
	return out
}

// Only multipart/form-data is read as a form: the same parts under
// multipart/mixed (or related, alternative) are sniffed as "other", do not
// start like JSON and pass unread, while Commons FileUpload and Spring's
// default resolver take any multipart/ type.
func TestAttackR4MultipartOtherSubtype(t *testing.T) {
	a := newApp(t, commonsUpload)
	sc := startApp(t, a, "")
	body := onePart(`Content-Disposition: form-data; name="email"`, alice)
	for _, ct := range []string{"multipart/mixed; boundary=B", "multipart/related; boundary=B"} {
		signup(t, sc, ct, body, ct)
	}
	a.mustNotRead(t, "parameter", "email="+alice)
}

// encodedWordNames reads multipart field names as Commons FileUpload's
// ParameterParser does (Tomcat's copy serves Spring's multipart
// resolver): each Content-Disposition parameter value is passed through
// MimeUtility.decodeText, so an RFC 2047 encoded word is decoded.
func encodedWordNames(r *http.Request, body []byte) []string {
	dec := new(mime.WordDecoder)
	var out []string
	requestParts(r, body, func(p *multipart.Part, b []byte) {
		if name, err := dec.DecodeHeader(p.FormName()); err == nil {
			out = append(out, name+"="+string(b))
		}
	})
	return out
}

// A part named by an RFC 2047 encoded word ("=?UTF-8?B?ZW1haWw=?=" is
// "email") is no member to fieldseal, which compares the name as written,
// and is copied unsealed; Commons FileUpload decodes it to "email".
func TestAttackR4MultipartEncodedWordName(t *testing.T) {
	a := newApp(t, encodedWordNames)
	sc := startApp(t, a, "")
	for _, name := range []string{"=?UTF-8?B?ZW1haWw=?=", "=?UTF-8?Q?email?=", "=?ISO-8859-1?Q?e=6Dail?="} {
		signup(t, sc, formDataB, onePart(`Content-Disposition: form-data; name="`+name+`"`, alice), name)
	}
	a.mustNotRead(t, "parameter", "email="+alice)
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
	return formParts(body, boundary)
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
	signup(t, sc, `multipart/form-data; boundary="`+b+`"`, body, "encoded-word boundary")
	a.mustNotRead(t, "field", "email="+alice)
}

// rfc2231Names reads multipart field names as Commons FileUpload 1.4+ (and
// Tomcat's copy behind Spring Boot's default multipart resolver) does in
// ParameterParser: parameters are read in order into a map, the later
// one winning; a "name*" parameter is RFC 2231 decoded in its declared
// charset (RFC2231Utility) and stored under "name".
func rfc2231Names(r *http.Request, body []byte) []string {
	var out []string
	requestParts(r, body, func(p *multipart.Part, b []byte) {
		out = append(out, commonsParam(p.Header.Get("Content-Disposition"), "name")+"="+string(b))
	})
	return out
}

// commonsParam is the parameter key of a header value (Content-Type,
// Content-Disposition) as Commons FileUpload's ParameterParser reads it:
// parameters in order, the later one winning, and a "key*" parameter RFC
// 2231 decoded (charset'language'percent-encoding) and stored as key;
// "" when there is none.
func commonsParam(header, key string) string {
	val := ""
	for _, param := range strings.Split(header, ";")[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
		switch strings.ToLower(k) {
		case key:
			val = strings.Trim(v, `"`)
		case key + "*":
			_, rest, _ := strings.Cut(v, "'")
			_, enc, _ := strings.Cut(rest, "'")
			// ISO-8859-1 and UTF-8 agree on the ASCII used here.
			val = urlUnescape(enc)
		}
	}
	return val
}

// urlUnescape decodes the %XX escapes of an RFC 2231 value, leniently: every
// other byte is kept as it is.
func urlUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var c byte
			for _, h := range s[i+1 : i+3] {
				c <<= 4
				switch {
				case '0' <= h && h <= '9':
					c |= byte(h - '0')
				case 'a' <= h && h <= 'f':
					c |= byte(h - 'a' + 10)
				case 'A' <= h && h <= 'F':
					c |= byte(h - 'A' + 10)
				}
			}
			b.WriteByte(c)
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// A part named by an RFC 2231 "name*" parameter in a charset Go's
// mime.ParseMediaType does not decode (ISO-8859-1) has no name to
// fieldseal and is copied; Commons FileUpload decodes it to "email". With
// both "name*" and a later plain "name", Go keeps the "name*" value and
// Commons the later "name".
func TestAttackR4bMultipartRFC2231Name(t *testing.T) {
	a := newApp(t, rfc2231Names)
	sc := startApp(t, a, "")
	for _, cd := range []string{
		`form-data; name*=ISO-8859-1''email`,
		`form-data; name*=iso-8859-1'en'e%6Dail`,
		`form-data; name*=UTF-8''note; name="email"`,
	} {
		signup(t, sc, formDataB, onePart("Content-Disposition: "+cd, alice), cd)
	}
	a.mustNotRead(t, "field", "email="+alice)
}

// rfc2231Boundary reads a multipart body as Tomcat's copy of Commons
// FileUpload finds its boundary (FileUploadBase.getBoundary through
// ParameterParser): parameters are read in order, the later winning, a
// "boundary*" parameter is RFC 2231 decoded and stored as "boundary".
func rfc2231Boundary(r *http.Request, body []byte) []string {
	return formParts(body, commonsParam(r.Header.Get("Content-Type"), "boundary"))
}

// With an RFC 2231 "boundary*" (Y) before "boundary=X", Go's mime.ParseMediaType
// (and so fieldseal) reads the boundary Y and Commons FileUpload X: parts
// delimited by "--X" sit inside a Y part that fieldseal copies as content
// ("--X" is no delimiter to it), and Commons reads them as fields.
func TestAttackR4bMultipartRFC2231Boundary(t *testing.T) {
	a := newApp(t, rfc2231Boundary)
	sc := startApp(t, a, "")
	body := "--Y\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n" +
		"--X\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + alice + "\r\n--X--\r\n" +
		"--Y--\r\n"
	signup(t, sc, `multipart/form-data; boundary*=UTF-8''Y; boundary="X"`, body, "boundary* before boundary")
	a.mustNotRead(t, "field", "email="+alice)
}

// TestAttackR4bHeld keeps what this attack tried that held: JSON parts
// under other JSON types and charsets, encoded-word names in other
// encodings, a multipart type without a boundary. The application
// decodes every part whose type names JSON, and every body as JSON.
func TestAttackR4bHeld(t *testing.T) {
	a := newApp(t, func(r *http.Request, body []byte) []string {
		out := anyTypeJSONApp(r, body)
		requestParts(r, body, func(p *multipart.Part, b []byte) {
			out = append(append(out, p.FormName()+"="+string(b)), anyTypeJSONApp(r, b)...)
		})
		return out
	})
	sc := startApp(t, a, "")
	doc := `{"email":"` + alice + `"}`
	part := func(cd, ct string) []byte {
		return []byte(onePart("Content-Disposition: form-data; "+cd+"\r\nContent-Type: "+ct, doc))
	}
	mp := map[string]string{"Content-Type": formDataB}
	for name, q := range map[string]sidecartest.Req{
		"text/json part":          {Body: part(`name="c"`, "text/json"), Header: mp},
		"vnd.api+json utf-16":     {Body: part(`name="c"`, "application/vnd.api+json; charset=utf-16"), Header: mp},
		"charset* utf-16":         {Body: part(`name="c"`, "application/json; charset*=utf-16''"), Header: mp},
		"Q word, latin1":          {Body: part(`name="=?ISO-8859-1?Q?=65mail?="`, "text/plain"), Header: mp},
		"split encoded words":     {Body: part(`name="=?UTF-8?B?ZW1h?= =?UTF-8?Q?il?="`, "text/plain"), Header: mp},
		"utf-16 encoded word":     {Body: part(`name="=?UTF-16?B?AGUAbQBhAGkAbA==?="`, "text/plain"), Header: mp},
		"multipart/x no boundary": {Body: []byte(doc), Header: map[string]string{"Content-Type": "multipart/x-anything"}},
	} {
		q.Method, q.Path = "POST", "/signup"
		r := sc.Do(t, q)
		t.Logf("%s -> %d %.100s", name, r.Status, r.Body)
	}
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if strings.Contains(s, alice) && !strings.HasPrefix(s, "c=") {
				t.Errorf("app read %q from %q", s, rc.Body)
			}
		}
	}
}
