package guard_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

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
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=UTF-16"}, Body: []byte(body)})
	t.Logf("%d %s", r.Status, r.Body)
	a.mustNotHold(t, alice)
}

// phpForm models PHP's $_POST name mangling ('.', ' ' and an unclosed '['
// become '_') and Spring's WebDataBinder ("!field" default marker, dotted
// nested property paths): it reports the value under the name the app binds.
func mangledForm(r *http.Request, body []byte) []string {
	vals, _ := url.ParseQuery(string(body))
	var out []string
	for k, vs := range vals {
		n := strings.NewReplacer(".", "_", " ", "_", "[", "_").Replace(k)
		n = strings.TrimPrefix(n, "!")
		if i := strings.LastIndexByte(n, '_'); strings.HasPrefix(k, "contact.") && i >= 0 {
			n = n[i+1:]
		}
		for _, v := range vs {
			out = append(out, n+"="+v)
		}
	}
	return out
}

// F6: form names that PHP / Spring normalise onto a class key.
func TestAttackFormNameNormalisation(t *testing.T) {
	a := newApp(t, mangledForm)
	sc := startApp(t, a, "")
	for _, name := range []string{"e.mail", "e mail", "e[mail", "!email", "contact.email"} {
		body := url.QueryEscape(name) + "=" + url.QueryEscape(alice)
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: []byte(body)})
		t.Logf("%q -> %d", name, r.Status)
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
		"--B\r\nContent-Disposition: form-data; name=\"email\"; name=\"email\"\r\n\r\n" + alice + "\r\n--B--\r\n",
		"--B\r\nContent-Disposition: form-data; name=\"email\"; x\r\n\r\n" + alice + "\r\n--B--\r\n",
		"--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--BX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + alice + "\r\n--B--\r\n",
	}
	for _, b := range bodies {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "multipart/form-data; boundary=B"}, Body: []byte(b)})
		t.Logf("%d %s", r.Status, r.Body)
	}
	for _, rc := range a.received() {
		for _, s := range rc.Strings {
			if strings.HasPrefix(s, "email=") && strings.Contains(s, alice) {
				t.Errorf("app read part %q from %q", s, rc.Body)
			}
		}
	}
}
