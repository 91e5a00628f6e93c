package guard_test

// Round 4, second attack on the round's guard fixes: each TestAttackR4b*
// reproduces a way plaintext of a protected class reaches the application.

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// A JSON part declared as a file (filename=) is copied as it is: only
// parts without a file name are read as JSON documents. Spring's
// @RequestPart binds a part to an object by its Content-Type whatever its
// file name, and a browser's FormData.append(name, new Blob([json],
// {type: "application/json"})) always sends filename="blob".
func TestAttackR4bJSONPartWithFileName(t *testing.T) {
	a := newApp(t, springParts)
	sc := startApp(t, a, "")
	for _, fn := range []string{"blob", "customer.json"} {
		body := "--B\r\nContent-Disposition: form-data; name=\"customer\"; filename=\"" + fn + "\"\r\nContent-Type: application/json\r\n\r\n" +
			`{"name":"mallory","email":"` + alice + `","contact":{"phone":"` + phone + `"}}` + "\r\n--B--\r\n"
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "multipart/form-data; boundary=B"}, Body: []byte(body)})
		t.Logf("filename %q -> %d %s", fn, r.Status, r.Body)
	}
	a.mustNotHold(t, alice, phone)
}

// rfc2231Names reads multipart field names as Commons FileUpload 1.4+ (and
// Tomcat's copy behind Spring Boot's default multipart resolver) does in
// ParameterParser: parameters are read in order into a map, the later
// one winning; a "name*" parameter is RFC 2231 decoded in its declared
// charset (RFC2231Utility) and stored under "name".
func rfc2231Names(r *http.Request, body []byte) []string {
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
		name := ""
		for _, param := range strings.Split(p.Header.Get("Content-Disposition"), ";")[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
			switch strings.ToLower(k) {
			case "name":
				name = strings.Trim(v, `"`)
			case "name*":
				_, rest, _ := strings.Cut(v, "'")
				_, enc, _ := strings.Cut(rest, "'")
				// ISO-8859-1 and UTF-8 agree on the ASCII used here.
				if d, err := urlUnescape(enc); err == nil {
					name = d
				}
			}
		}
		out = append(out, name+"="+string(b))
	}
}

func urlUnescape(s string) (string, error) {
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
	return b.String(), nil
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
		body := "--B\r\nContent-Disposition: " + cd + "\r\n\r\n" + alice + "\r\n--B--\r\n"
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "multipart/form-data; boundary=B"}, Body: []byte(body)})
		t.Logf("%s -> %d %s", cd, r.Status, r.Body)
	}
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if s == "email="+alice {
				t.Errorf("app read field %q from %q", s, rc.Body)
			}
		}
	}
}

// postAndPut has a POST route and a PUT route on the same path, only the
// PUT one protecting contact.value.
const postAndPut = `
  - name: accounts-action
    methods: [POST]
    paths: ["/accounts/{id}"]
    request: [ {path: note, class: secret} ]
  - name: accounts-update
    methods: [PUT]
    paths: ["/accounts/{id}"]
    request: [ {path: contact.value, class: secret} ]
`

// rfc2231Boundary reads a multipart body as Tomcat's copy of Commons
// FileUpload finds its boundary (FileUploadBase.getBoundary through
// ParameterParser): parameters are read in order, the later winning, a
// "boundary*" parameter is RFC 2231 decoded and stored as "boundary".
func rfc2231Boundary(r *http.Request, body []byte) []string {
	boundary := ""
	for _, param := range strings.Split(r.Header.Get("Content-Type"), ";")[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
		switch strings.ToLower(k) {
		case "boundary":
			boundary = strings.Trim(v, `"`)
		case "boundary*":
			_, rest, _ := strings.Cut(v, "'")
			_, enc, _ := strings.Cut(rest, "'")
			boundary, _ = urlUnescape(enc)
		}
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
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": `multipart/form-data; boundary*=UTF-8''Y; boundary="X"`}, Body: []byte(body)})
	t.Logf("-> %d %s", r.Status, r.Body)
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if s == "email="+alice {
				t.Errorf("app read field %q from %q", s, rc.Body)
			}
		}
	}
}

// formApp reads an urlencoded body as every form framework does (PHP's
// $_POST, Rack, servlet parameters, Express's urlencoded parser).
func formApp(r *http.Request, body []byte) []string {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil
	}
	var out []string
	for k, vs := range vals {
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
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: []byte(body)})
		t.Logf("%s -> %d %s", body, r.Status, r.Body)
	}
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if s == "email="+alice {
				t.Errorf("app read form field %q from %q", s, rc.Body)
			}
		}
	}
}

// putAndPatch has no POST route on /accounts/{id}; its PUT and PATCH
// routes protect different paths.
const putAndPatch = `
  - name: accounts-replace
    methods: [PUT]
    paths: ["/accounts/{id}"]
    request: [ {path: note, class: secret} ]
  - name: accounts-patch
    methods: [PATCH]
    paths: ["/accounts/{id}"]
    request: [ {path: contact.value, class: secret} ]
`

// TestAttackR4bHeld keeps what this attack tried that held: JSON parts
// under other JSON types and charsets, encoded-word names in other
// encodings, a multipart type without a boundary. The application
// decodes every part whose type names JSON, and every body as JSON.
func TestAttackR4bHeld(t *testing.T) {
	a := newApp(t, func(r *http.Request, body []byte) []string {
		out := anyTypeJSONApp(r, body)
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			return out
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return out
			}
			b, _ := io.ReadAll(p)
			out = append(append(out, p.FormName()+"="+string(b)), anyTypeJSONApp(r, b)...)
		}
	})
	sc := startApp(t, a, "")
	doc := `{"email":"` + alice + `"}`
	part := func(cd, ct string) []byte {
		return []byte("--B\r\nContent-Disposition: form-data; " + cd + "\r\nContent-Type: " + ct + "\r\n\r\n" + doc + "\r\n--B--\r\n")
	}
	mp := map[string]string{"Content-Type": "multipart/form-data; boundary=B"}
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
