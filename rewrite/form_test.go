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
	if err := p.ApplyMultipart(&out, &in, mw.Boundary(), 1<<10, sealForm); err != nil {
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
	if err := p.ApplyMultipart(io.Discard, &file, mw.Boundary(), 1<<10, sealForm); !errors.Is(err, ErrFormFile) {
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
