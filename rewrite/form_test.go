package rewrite

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
)

// sealForm replaces a value with a sealed-looking JSON string that keeps
// the plaintext visible to the test: "S<i>:<plaintext>".
func sealForm(out []byte, i int, raw []byte) ([]byte, error) {
	return append(append(append(out, `"S`...), byte('0'+i)), append([]byte(":"), raw[1:]...)...), nil
}

func TestApplyForm(t *testing.T) {
	p, err := CompileSpec(Spec{Members: []string{"email", "phone"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, body, want string }{
		{"a member field is replaced", "name=A&email=a%40x.com", "name=A&email=S0%3Aa%40x.com"},
		{"names fold case and decode escapes", "EMAIL=a&%65mail=b&Phone=1", "EMAIL=S0%3Aa&%65mail=S0%3Ab&Phone=S1%3A1"},
		{"nested names as qs reads them", "contact[email]=a&list[0][phone]=1&email[]=c", "contact[email]=S0%3Aa&list[0][phone]=S1%3A1&email[]=S0%3Ac"},
		{"dotted names as Spring binds them", "contact.email=a&x.y.phone=1", "contact.email=S0%3Aa&x.y.phone=S1%3A1"},
		{"plus is a space", "email=a+b", "email=S0%3Aa+b"},
		{"semicolons separate fields too", "x=1;email=a", "x=1;email=S0%3Aa"},
		{"other fields keep their bytes", "a=%7e&b&&c=", "a=%7e&b&&c="},
		{"an empty value is sealed", "email=", "email=S0%3A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.ApplyForm(nil, []byte(tt.body), sealForm)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			vals, err := url.ParseQuery(strings.ReplaceAll(string(got), ";", "&"))
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range vals {
				if p.FormMember(k) >= 0 && !strings.HasPrefix(vs[0], "S") {
					t.Errorf("field %s kept %q", k, vs[0])
				}
			}
		})
	}
	if _, err := p.ApplyForm(nil, []byte("email=%zz"), sealForm); !errors.Is(err, ErrInvalidForm) {
		t.Errorf("bad escape: %v", err)
	}
}

func TestApplyMultipart(t *testing.T) {
	p, err := CompileSpec(Spec{Members: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	mw := multipart.NewWriter(&in)
	_ = mw.WriteField("name", "A")
	_ = mw.WriteField("contact[Email]", "a@x.com")
	fw, _ := mw.CreateFormFile("avatar", "a.png")
	_, _ = fw.Write([]byte("\x89PNG\x00binary"))
	_ = mw.Close()

	var out bytes.Buffer
	if err := p.ApplyMultipart(&out, &in, mw.Boundary(), 1<<10, nil, sealForm); err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(&out, mw.Boundary())
	got := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		got[part.FormName()] = string(b)
	}
	want := map[string]string{"name": "A", "contact[Email]": "S0:a@x.com", "avatar": "\x89PNG\x00binary"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("part %s = %q, want %q", k, got[k], v)
		}
	}

	var file bytes.Buffer
	mw = multipart.NewWriter(&file)
	fw, _ = mw.CreateFormFile("email", "x.txt")
	_, _ = fw.Write([]byte("a@x.com"))
	_ = mw.Close()
	if err := p.ApplyMultipart(io.Discard, &file, mw.Boundary(), 1<<10, nil, sealForm); !errors.Is(err, ErrFormFile) {
		t.Errorf("a file named like a member: %v", err)
	}
}

// FormMember finds a member under every reading of a form field name that
// a framework binds to it, PHP's included.
func TestFormMemberReadings(t *testing.T) {
	p, err := CompileSpec(Spec{Members: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"email", "contact[email]", "contact.email", "!email", "_email",
		" email", "   email", "email\x00x", "  email\x00[x]", "  a[email]", " _email", "\x00", // PHP: leading spaces, NUL
	} {
		want := name != "\x00"
		if got := p.FormMember(name) >= 0; got != want {
			t.Errorf("FormMember(%q) found %v, want %v", name, got, want)
		}
	}
}

// multipartBody writes one part with the given headers and content.
func multipartBody(boundary, headers, content string) string {
	return "--" + boundary + "\r\n" + headers + "\r\n\r\n" + content + "\r\n--" + boundary + "--\r\n"
}

// readParts returns the content of every part of a multipart body by its
// raw name.
func readParts(t *testing.T, body []byte, boundary string) map[string]string {
	t.Helper()
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	got := map[string]string{}
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		got[part.FormName()] = string(b)
	}
}

// A part name is also read with its RFC 2047 encoded words decoded, as
// Commons FileUpload reads it; a word that does not decode is refused.
func TestApplyMultipartEncodedWordNames(t *testing.T) {
	p, err := CompileSpec(Spec{Members: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"=?UTF-8?B?ZW1haWw=?=", "=?UTF-8?Q?email?=", "=?ISO-8859-1?Q?e=6Dail?=", "=?utf-8?q?em?= =?utf-8?q?ail?="} {
		var out bytes.Buffer
		if err := p.ApplyMultipart(&out, strings.NewReader(multipartBody("B", `Content-Disposition: form-data; name="`+name+`"`, "a@x.com")), "B", 1<<10, nil, sealForm); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := readParts(t, out.Bytes(), "B")[name]; got != "S0:a@x.com" {
			t.Errorf("%s: part holds %q, want it sealed", name, got)
		}
	}
	for _, name := range []string{"=?UTF-8?B?!!!?=", "=?KOI8-R?Q?email?=", "=?UTF-8?Q?email?=x", "x=?UTF-8?Q?email?=", "contact[=?UTF-8?Q?email?=]", "=?UTF-8?Q?em"} {
		err := p.ApplyMultipart(io.Discard, strings.NewReader(multipartBody("B", `Content-Disposition: form-data; name="`+name+`"`, "a@x.com")), "B", 1<<10, nil, sealForm)
		if !errors.Is(err, ErrInvalidForm) {
			t.Errorf("%s: %v, want ErrInvalidForm", name, err)
		}
	}
	var out bytes.Buffer
	if err := p.ApplyMultipart(&out, strings.NewReader(multipartBody("B", `Content-Disposition: form-data; name="=?UTF-8?Q?note?="`, "hi")), "B", 1<<10, nil, sealForm); err != nil {
		t.Fatal(err)
	}
	if got := readParts(t, out.Bytes(), "B")["=?UTF-8?Q?note?="]; got != "hi" {
		t.Errorf("an encoded name of no member: %q", got)
	}
}

// A boundary that holds an encoded word is another boundary to Commons
// FileUpload: refused.
func TestApplyMultipartEncodedWordBoundary(t *testing.T) {
	p, err := CompileSpec(Spec{Members: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	const b = "=?UTF-8?Q?X?="
	err = p.ApplyMultipart(io.Discard, strings.NewReader(multipartBody(b, `Content-Disposition: form-data; name="note"`, "hi")), b, 1<<10, nil, sealForm)
	if !errors.Is(err, ErrInvalidForm) {
		t.Errorf("got %v, want ErrInvalidForm", err)
	}
}

// A non-file JSON part under a name no class lists is a document to the
// frameworks that bind parts: its members are sealed; content that is not
// JSON, or JSON in another charset, is refused.
func TestApplyMultipartJSONPart(t *testing.T) {
	p, err := CompileSpec(Spec{Members: []string{"email", "phone"}})
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"name":"m","email":"a@x.com","contact":{"phone":"1"}}`
	want := `{"name":"m","email":"S0:a@x.com","contact":{"phone":"S1:1"}}`
	for _, h := range []string{
		"Content-Type: application/json",
		"Content-Type: application/vnd.api+json; charset=UTF-8",
		"Content-Type: TEXT/JSON",
		"Content-Type: text/plain\r\nContent-Type: application/json",
	} {
		var out bytes.Buffer
		body := multipartBody("B", "Content-Disposition: form-data; name=\"customer\"\r\n"+h, doc)
		if err := p.ApplyMultipart(&out, strings.NewReader(body), "B", 1<<10, nil, sealForm); err != nil {
			t.Errorf("%q: %v", h, err)
			continue
		}
		if got := readParts(t, out.Bytes(), "B")["customer"]; got != want {
			t.Errorf("%q: got  %s\nwant %s", h, got, want)
		}
	}
	var out bytes.Buffer
	body := multipartBody("B", "Content-Disposition: form-data; name=\"customer\"\r\nContent-Type: application/json\r\nContent-Transfer-Encoding: base64", "eyJlbWFpbCI6ImFAeC5jb20ifQ==")
	if err := p.ApplyMultipart(&out, strings.NewReader(body), "B", 1<<10, nil, sealForm); err != nil {
		t.Fatal(err)
	}
	if got := readParts(t, out.Bytes(), "B")["customer"]; got != `{"email":"S0:a@x.com"}` {
		t.Errorf("base64 JSON part: %s", got)
	}
	for _, tt := range []struct{ headers, content string }{
		{"Content-Type: application/json", `{"email":`},
		{"Content-Type: application/json", "\xff\xfe{\x00}\x00"},
		{"Content-Type: application/json; charset=utf-16", `{"email":"a@x.com"}`},
		{"Content-Type: application/json; charset=\"", `{"email":"a@x.com"}`},
	} {
		body := multipartBody("B", "Content-Disposition: form-data; name=\"customer\"\r\n"+tt.headers, tt.content)
		if err := p.ApplyMultipart(io.Discard, strings.NewReader(body), "B", 1<<10, nil, sealForm); !errors.Is(err, ErrInvalidForm) {
			t.Errorf("%q %q: %v, want ErrInvalidForm", tt.headers, tt.content, err)
		}
	}
	body = multipartBody("B", "Content-Disposition: form-data; name=\"customer\"\r\nContent-Type: application/json", `{"email":"`+strings.Repeat("a", 2<<10)+`"}`)
	if err := p.ApplyMultipart(io.Discard, strings.NewReader(body), "B", 1<<10, nil, sealForm); !errors.Is(err, ErrInvalidForm) {
		t.Errorf("a JSON part over maxValue: %v", err)
	}
	// A JSON file is a document too (Spring binds a part by its type, and
	// a browser's FormData gives every blob a file name).
	out.Reset()
	body = multipartBody("B", "Content-Disposition: form-data; name=\"upload\"; filename=\"blob\"\r\nContent-Type: application/json", doc)
	if err := p.ApplyMultipart(&out, strings.NewReader(body), "B", 1<<10, nil, sealForm); err != nil {
		t.Fatal(err)
	}
	if got := readParts(t, out.Bytes(), "B")["upload"]; got != want {
		t.Errorf("a JSON file part: %s, want %s", got, want)
	}
}

// TestApplyMultipartChargesHold: a member part is read into a buffer whose
// capacity hold is told before each growth, and hold's error ends the copy
// as it is, so a memory budget bounds parts as it bounds JSON bodies.
func TestApplyMultipartChargesHold(t *testing.T) {
	p, err := CompileSpec(Spec{Members: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	errSpent := errors.New("budget spent")
	var most int64
	hold := func(capacity int64) error {
		most = max(most, capacity)
		if capacity > 4<<10 {
			return errSpent
		}
		return nil
	}
	body := multipartBody("B", `Content-Disposition: form-data; name="email"`, strings.Repeat("a", 3<<10))
	if err := p.ApplyMultipart(io.Discard, strings.NewReader(body), "B", 1<<20, hold, sealForm); err != nil || most < 3<<10 {
		t.Fatalf("a 3 KiB part under a 4 KiB hold: %v (most held %d)", err, most)
	}
	body = multipartBody("B", `Content-Disposition: form-data; name="email"`, strings.Repeat("a", 64<<10))
	if err := p.ApplyMultipart(io.Discard, strings.NewReader(body), "B", 1<<20, hold, sealForm); !errors.Is(err, errSpent) || errors.Is(err, ErrInvalidForm) {
		t.Fatalf("a 64 KiB part under a 4 KiB hold: %v, want the hold's error alone", err)
	}
}

// TestHasExtendedParam: RFC 2231 parameters, which parsers read
// differently, are found in any form; plain ones are not.
func TestHasExtendedParam(t *testing.T) {
	for v, want := range map[string]bool{
		`form-data; name="email"`:                               false,
		`multipart/form-data; boundary=X`:                       false,
		`form-data; name*=ISO-8859-1''email`:                    true,
		`form-data; name*=UTF-8''note; name="email"`:            true,
		`multipart/form-data; boundary*=UTF-8''Y; boundary="X"`: true,
		`form-data; name*0="em"; name*1="ail"`:                  true,
		`form-data`:                                             false,
	} {
		if got := HasExtendedParam(v); got != want {
			t.Errorf("HasExtendedParam(%q) = %v, want %v", v, got, want)
		}
	}
}
