package rewrite

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"net/url"
	"strings"
)

// ErrFormFile is returned by ApplyMultipart for a file part whose field name
// is a member of the plan: a file cannot be sealed as a field value.
var ErrFormFile = errors.New("a file part is named like a protected member")

// ErrInvalidForm is returned for a form body that cannot be read the way an
// application would read it (bad escapes, a broken multipart stream).
var ErrInvalidForm = errors.New("form body is not valid")

// formNames returns the member names a form field name stands for in the
// frameworks that nest fields: "contact[email][]" is read by Express (qs),
// Rails, PHP and others as contact.email, so both "contact" and "email"
// are names the application will see.
func formNames(name string, yield func(string) bool) {
	base, rest, nested := strings.Cut(name, "[")
	if !yield(base) || !nested {
		return
	}
	for _, part := range strings.Split(rest, "[") {
		part = strings.TrimSuffix(part, "]")
		if part != "" && !yield(part) {
			return
		}
	}
}

// FormMember returns the index of the plan member that the form field name
// stands for (see formNames), or -1. Paths do not apply to forms.
func (p *Plan) FormMember(name string) int {
	found := -1
	formNames(name, func(n string) bool {
		found = p.members.lookup(n)
		return found < 0
	})
	return found
}

// ApplyForm copies an application/x-www-form-urlencoded body to dst,
// replacing the value of every field whose name stands for a member of the
// plan with the query-escaped bytes fn appends for it. fn receives
// len(Paths)+j as Apply's callback does and the decoded value as a JSON
// string (quoted and escaped), so one callback serves both formats; it must
// append a JSON string, whose content is written to the form. ';' separates
// fields as '&' does, since some frameworks split on it. Bytes outside
// replaced values come out as they went in.
func (p *Plan) ApplyForm(dst, body []byte, fn func(out []byte, i int, raw []byte) ([]byte, error)) ([]byte, error) {
	mark := len(dst)
	var scratch, sealed []byte
	for len(body) > 0 {
		end := bytes.IndexAny(body, "&;")
		if end < 0 {
			end = len(body)
		}
		field := body[:end]
		name, value, hasValue := bytes.Cut(field, []byte("="))
		key, err := url.QueryUnescape(string(name))
		if err != nil {
			return dst[:mark], fmt.Errorf("%w: field name: %w", ErrInvalidForm, err)
		}
		i := p.FormMember(key)
		if i < 0 || !hasValue {
			dst = append(dst, field...)
		} else {
			v, err := url.QueryUnescape(string(value))
			if err != nil {
				return dst[:mark], fmt.Errorf("%w: value of field %q: %w", ErrInvalidForm, key, err)
			}
			scratch = AppendString(scratch[:0], []byte(v))
			sealed, err = fn(sealed[:0], len(p.paths)+i, scratch)
			if err != nil {
				return dst[:mark], fmt.Errorf("rewrite value of form field %q: %w", key, err)
			}
			content, err := jsonStringContent(sealed)
			if err != nil {
				return dst[:mark], err
			}
			dst = append(dst, name...)
			dst = append(dst, '=')
			dst = append(dst, url.QueryEscape(content)...)
		}
		if end < len(body) {
			dst = append(dst, body[end])
			end++
		}
		body = body[end:]
	}
	return dst, nil
}

// ApplyMultipart copies a multipart/form-data body with the given boundary
// from r to w, replacing the content of every non-file part whose field name
// stands for a member of the plan with the content of the JSON string fn
// returns for it (see ApplyForm); other parts, files included, are copied
// as they are. A part carrying quoted-printable or base64 content is decoded
// before sealing (its Content-Transfer-Encoding header is dropped with it). A
// file part named like a member is ErrFormFile. maxValue bounds a value read
// into memory.
func (p *Plan) ApplyMultipart(w io.Writer, r io.Reader, boundary string, maxValue int64, fn func(out []byte, i int, raw []byte) ([]byte, error)) error {
	mr := multipart.NewReader(r, boundary)
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidForm, err)
	}
	var scratch, sealed []byte
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return mw.Close()
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidForm, err)
		}
		name, i := partName(part), -1
		if name != "" {
			i = p.FormMember(name)
		}
		header := textproto.MIMEHeader(part.Header)
		if i < 0 {
			out, err := mw.CreatePart(header)
			if err == nil {
				_, err = io.Copy(out, part)
			}
			if err != nil {
				return fmt.Errorf("copy part %q: %w", name, err)
			}
			continue
		}
		if part.FileName() != "" {
			return fmt.Errorf("part %q: %w", name, ErrFormFile)
		}
		var content io.Reader = part
		switch strings.ToLower(header.Get("Content-Transfer-Encoding")) {
		case "", "7bit", "8bit", "binary":
		case "quoted-printable":
			content = quotedprintable.NewReader(part)
		case "base64":
			content = base64.NewDecoder(base64.StdEncoding, part)
		default:
			return fmt.Errorf("%w: part %q has transfer encoding %q", ErrInvalidForm, name, header.Get("Content-Transfer-Encoding"))
		}
		v, err := io.ReadAll(io.LimitReader(content, maxValue+1))
		if err != nil {
			return fmt.Errorf("%w: part %q: %w", ErrInvalidForm, name, err)
		}
		if int64(len(v)) > maxValue {
			return fmt.Errorf("%w: part %q is longer than %d bytes", ErrInvalidForm, name, maxValue)
		}
		scratch = AppendString(scratch[:0], v)
		if sealed, err = fn(sealed[:0], len(p.paths)+i, scratch); err != nil {
			return fmt.Errorf("rewrite value of form part %q: %w", name, err)
		}
		text, err := jsonStringContent(sealed)
		if err != nil {
			return err
		}
		header = cloneHeader(header)
		header.Del("Content-Transfer-Encoding")
		header.Del("Content-Length")
		out, err := mw.CreatePart(header)
		if err == nil {
			_, err = io.WriteString(out, text)
		}
		if err != nil {
			return fmt.Errorf("write part %q: %w", name, err)
		}
	}
}

// partName returns the form field name of a part ("" when it has none).
func partName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["name"]
}

func cloneHeader(h textproto.MIMEHeader) textproto.MIMEHeader {
	c := make(textproto.MIMEHeader, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return c
}

// jsonStringContent returns the content of the JSON string raw; the
// callbacks of this package return sealed values, which never need
// escapes, but any JSON string is decoded.
func jsonStringContent(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", fmt.Errorf("rewrite form value: replacement %.20q is not a JSON string", raw)
	}
	return string(StringContent(raw)), nil
}
