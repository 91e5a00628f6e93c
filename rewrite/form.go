package rewrite

import (
	"bufio"
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

// FormNames yields the member names a form field name stands for in the
// frameworks that read forms, so that a name any of them binds to a member
// is found:
//   - the name itself;
//   - its parts, nested as "contact[email][]" (Express's qs, Rails, PHP)
//     or "contact.email" (Spring's data binder, qs with allowDots);
//   - PHP's top-level reading (php_register_variable_ex), which ends the
//     name at a NUL byte, drops its leading spaces, then turns '.', ' '
//     and a '[' that opens no bracket into '_' ("e.mail" is
//     $_POST["e_mail"], " email" and "email\x00x" are $_POST["email"]),
//     read nested as above;
//   - the name without Spring's field markers, '!' (a default value) and
//     '_' (a field that was present).
func FormNames(name string, yield func(string) bool) {
	if !yield(name) {
		return
	}
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '[' || r == ']' || r == '.' }) {
		if part != name && !yield(part) {
			return
		}
	}
	if php := phpName(name); php != name && php != "" {
		// The PHP reading is itself read nested ("  a[email]" is
		// $_POST["a"]["email"]); phpName(php) == php ends the recursion.
		more := true
		FormNames(php, func(n string) bool { more = yield(n); return more })
		if !more {
			return
		}
	}
	if trimmed := strings.TrimLeft(name, "!_"); trimmed != name && trimmed != "" {
		FormNames(trimmed, yield)
	}
}

// phpName is the name PHP registers a form field under at the top level
// (main/php_variables.c, php_register_variable_ex): the name is a C string,
// so it ends at a NUL byte; leading spaces are skipped; '.' and ' ' become
// '_', and so does a '[' that opens no bracket.
func phpName(name string) string {
	name, _, _ = strings.Cut(name, "\x00")
	php := strings.Map(func(r rune) rune {
		if r == '.' || r == ' ' {
			return '_'
		}
		return r
	}, strings.TrimLeft(name, " "))
	if i := strings.IndexByte(php, '['); i >= 0 && strings.IndexByte(php[i:], ']') < 0 {
		php = php[:i] + "_" + php[i+1:]
	}
	return php
}

// FormMember returns the index of the plan member that the form field name
// stands for (see FormNames), or -1. Paths do not apply to forms.
func (p *Plan) FormMember(name string) int {
	found := -1
	FormNames(name, func(n string) bool {
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
		prefixed := false
		if i < 0 && hasValue && p.prefix != "" && bytes.Contains(value, []byte(p.prefix[:1])) {
			v, err := url.QueryUnescape(string(value))
			if err != nil {
				return dst[:mark], fmt.Errorf("%w: value of field %q: %w", ErrInvalidForm, key, err)
			}
			prefixed = strings.HasPrefix(v, p.prefix)
		}
		if prefixed {
			// A sealed value in a field no class names: the callback
			// decides (refused unless the caller may send sealed values).
			v, _ := url.QueryUnescape(string(value))
			scratch = AppendString(scratch[:0], []byte(v))
			if _, err := fn(sealed[:0], PrefixMatch, scratch); err != nil {
				return dst[:mark], fmt.Errorf("rewrite value of form field %q: %w", key, err)
			}
			dst = append(dst, field...)
		} else if i < 0 || !hasValue {
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
// returns for it (see ApplyForm). A part under another name whose
// Content-Type is JSON (see isJSONPart), file parts included, is a document to the frameworks that
// bind parts (Spring's @RequestPart, Jersey's @FormDataParam): its content
// is rewritten as Apply rewrites a document, with the same fn, and content
// that is not JSON is refused. Other parts, files included, are copied as
// they are. A part carrying quoted-printable or base64 content is decoded
// before sealing (its Content-Transfer-Encoding header is dropped with it). A
// file part named like a member is ErrFormFile. maxValue bounds a value or
// a JSON part read into memory; hold (nil: none) is told, before the
// buffer it is read into grows, the capacity that buffer will have, and an
// error from it ends the copy with that error (a memory budget spent).
//
// A field name is also read as Apache Commons FileUpload reads it, with its
// RFC 2047 encoded words decoded ("=?UTF-8?B?ZW1haWw=?=" is "email"); see
// partName. A boundary holding "=?" is ErrInvalidForm: Commons decodes
// encoded words in the boundary too, and then splits the body elsewhere.
func (p *Plan) ApplyMultipart(w io.Writer, r io.Reader, boundary string, maxValue int64, hold func(capacity int64) error, fn func(out []byte, i int, raw []byte) ([]byte, error)) error {
	if strings.Contains(boundary, "=?") {
		return fmt.Errorf("%w: the multipart boundary holds an RFC 2047 encoded word", ErrInvalidForm)
	}
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
		name, decoded, err := partName(part)
		if err != nil {
			return err
		}
		i := -1
		if name != "" {
			i = p.FormMember(name)
		}
		if i < 0 && decoded != name {
			i = p.FormMember(decoded)
		}
		header := textproto.MIMEHeader(part.Header)
		if i < 0 {
			// A file part too: Spring's @RequestPart binds a part by its
			// Content-Type, and a browser's FormData.append(name, blob)
			// always gives the blob a file name.
			jsonPart, err := isJSONPart(header)
			if err != nil {
				return fmt.Errorf("part %q: %w", name, err)
			}
			if jsonPart {
				if err := p.applyJSONPart(mw, part, header, name, boundary, maxValue, hold, fn); err != nil {
					return err
				}
				continue
			}
		}
		if i < 0 {
			out, err := mw.CreatePart(header)
			if err != nil {
				return fmt.Errorf("copy part %q: %w", name, err)
			}
			var src io.Reader = part
			if part.FileName() == "" && p.prefix != "" {
				// A field no class names that holds a sealed value: the
				// callback decides, on the whole value.
				br := bufio.NewReaderSize(part, max(16, len(p.prefix)))
				if head, _ := br.Peek(len(p.prefix)); string(head) == p.prefix {
					v, err := readHeld(br, maxValue, hold)
					if he := (holdError{}); errors.As(err, &he) {
						return he.err
					}
					if err != nil || int64(len(v)) > maxValue {
						return fmt.Errorf("%w: part %q: too long or unreadable", ErrInvalidForm, name)
					}
					if _, err := fn(nil, PrefixMatch, AppendString(nil, v)); err != nil {
						return fmt.Errorf("rewrite value of form part %q: %w", name, err)
					}
					src = bytes.NewReader(v)
				} else {
					src = br
				}
			}
			if _, err := io.Copy(&delimGuard{w: out, delim: []byte("\n--" + boundary)}, src); err != nil {
				return fmt.Errorf("copy part %q: %w", name, err)
			}
			continue
		}
		if part.FileName() != "" {
			return fmt.Errorf("part %q: %w", name, ErrFormFile)
		}
		v, err := readPart(part, header, name, maxValue, hold)
		if err != nil {
			return err
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

// holdError is an error of readHeld's hold, passed on as it is.
type holdError struct{ err error }

func (e holdError) Error() string { return e.err.Error() }

// readHeld reads r to its end or to maxValue+1 bytes, whichever comes
// first, telling hold (nil: nobody) the capacity of its buffer before each
// growth, so that memory is charged as bytes arrive. An error of hold is
// returned as a holdError.
func readHeld(r io.Reader, maxValue int64, hold func(int64) error) ([]byte, error) {
	lr := io.LimitReader(r, maxValue+1)
	b := make([]byte, 0, 512)
	for {
		if len(b) == cap(b) {
			grown := append(b, 0)[:len(b)]
			if hold != nil {
				if err := hold(int64(cap(grown))); err != nil {
					return nil, holdError{err}
				}
			}
			b = grown
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// readPart reads the whole content of a part, decoded from its
// Content-Transfer-Encoding; content longer than maxValue bytes, an
// unknown transfer encoding or content that does not decode is
// ErrInvalidForm.
func readPart(part *multipart.Part, header textproto.MIMEHeader, name string, maxValue int64, hold func(int64) error) ([]byte, error) {
	var content io.Reader = part
	switch strings.ToLower(header.Get("Content-Transfer-Encoding")) {
	case "", "7bit", "8bit", "binary":
	case "quoted-printable":
		content = quotedprintable.NewReader(part)
	case "base64":
		content = base64.NewDecoder(base64.StdEncoding, part)
	default:
		return nil, fmt.Errorf("%w: part %q has transfer encoding %q", ErrInvalidForm, name, header.Get("Content-Transfer-Encoding"))
	}
	v, err := readHeld(content, maxValue, hold)
	if he := (holdError{}); errors.As(err, &he) {
		return nil, he.err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: part %q: %w", ErrInvalidForm, name, err)
	}
	if int64(len(v)) > maxValue {
		return nil, fmt.Errorf("%w: part %q is longer than %d bytes", ErrInvalidForm, name, maxValue)
	}
	return v, nil
}

// isJSONPart reports whether a part's Content-Type makes it a JSON
// document to some framework that binds parts: a "json" subtype or a
// "+json" suffix (RFC 6839), as Spring's Jackson converter and Jersey's
// read them, and the "x-json", "javascript" and "x-javascript" subtypes
// Jersey's Jackson provider also takes. Every Content-Type line of the
// part counts. A JSON part that declares a charset other than UTF-8 (or
// US-ASCII) is ErrInvalidForm: the application would decode bytes that
// fieldseal read as UTF-8.
func isJSONPart(header textproto.MIMEHeader) (bool, error) {
	json := false
	for _, ct := range header.Values("Content-Type") {
		mt, rest, _ := strings.Cut(ct, ";")
		_, sub, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
		switch {
		case sub == "json", strings.HasSuffix(sub, "+json"), sub == "x-json", sub == "javascript", sub == "x-javascript":
		default:
			continue
		}
		json = true
		if strings.TrimSpace(rest) == "" {
			continue
		}
		_, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return true, fmt.Errorf("%w: JSON part Content-Type does not parse: %w", ErrInvalidForm, err)
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") && !strings.EqualFold(cs, "us-ascii") {
			return true, fmt.Errorf("%w: JSON part has charset %.20q", ErrInvalidForm, cs)
		}
	}
	return json, nil
}

// applyJSONPart writes a JSON part to mw with its content rewritten by
// Apply with fn; content that is not JSON is ErrInvalidForm.
func (p *Plan) applyJSONPart(mw *multipart.Writer, part *multipart.Part, header textproto.MIMEHeader, name, boundary string, maxValue int64, hold func(int64) error, fn func(out []byte, i int, raw []byte) ([]byte, error)) error {
	v, err := readPart(part, header, name, maxValue, hold)
	if err != nil {
		return err
	}
	doc, err := p.Apply(nil, v, fn)
	if errors.Is(err, ErrInvalidJSON) {
		return fmt.Errorf("%w: JSON part %q: %w", ErrInvalidForm, name, err)
	}
	if err != nil {
		return fmt.Errorf("rewrite JSON part %q: %w", name, err)
	}
	header = cloneHeader(header)
	header.Del("Content-Transfer-Encoding")
	header.Del("Content-Length")
	out, err := mw.CreatePart(header)
	if err == nil {
		_, err = (&delimGuard{w: out, delim: []byte("\n--" + boundary)}).Write(doc)
	}
	if err != nil {
		return fmt.Errorf("write JSON part %q: %w", name, err)
	}
	return nil
}

// linearWhitespace separates the words of a header value that Commons
// FileUpload's MimeUtility.decodeText decodes one by one.
const linearWhitespace = " \t\r\n"

// partName returns the form field name of a part ("" when it has no
// Content-Disposition) and the name with its RFC 2047 encoded words
// decoded, as Apache Commons FileUpload (and Tomcat's copy of it) reads it
// through MimeUtility.decodeText; decoded is name when it holds none. A
// disposition that does not parse is ErrInvalidForm: another parser may
// still read a name from it. So is a word of the name that holds "=?"
// without being one whole encoded word that decodes (an unknown charset,
// bad base64, text after "?="): Commons reads such words its own way.
func partName(p *multipart.Part) (name, decoded string, err error) {
	cd := p.Header.Get("Content-Disposition")
	if cd == "" {
		return "", "", nil
	}
	if HasExtendedParam(cd) {
		return "", "", fmt.Errorf("%w: part with Content-Disposition %.40q: RFC 2231 parameters are refused", ErrInvalidForm, cd)
	}
	_, params, err := mime.ParseMediaType(cd)
	if err != nil {
		return "", "", fmt.Errorf("%w: part with Content-Disposition %.40q: %w", ErrInvalidForm, cd, err)
	}
	name = params["name"]
	if !strings.Contains(name, "=?") {
		return name, name, nil
	}
	var d mime.WordDecoder
	for _, word := range strings.FieldsFunc(name, func(r rune) bool { return strings.ContainsRune(linearWhitespace, r) }) {
		if !strings.Contains(word, "=?") {
			continue
		}
		if _, err := d.Decode(word); err != nil {
			return "", "", fmt.Errorf("%w: a part name holds an encoded word that does not decode: %w", ErrInvalidForm, err)
		}
	}
	if decoded, err = d.DecodeHeader(name); err != nil {
		return "", "", fmt.Errorf("%w: a part name holds an encoded word that does not decode: %w", ErrInvalidForm, err)
	}
	return name, decoded, nil
}

// HasExtendedParam reports whether a header value of the media-type form
// (Content-Type, Content-Disposition) has an RFC 2231 parameter (name*=,
// name*0=, name*0*=). Parsers disagree on them: Go's mime reads only UTF-8
// and US-ASCII ones and prefers them to the plain parameter, Tomcat's
// Commons FileUpload decodes any charset and keeps the later of name*= and
// name=, so a name or boundary could read one way to fieldseal and another
// to the application. A "*" inside a quoted value counts too (fail closed).
func HasExtendedParam(v string) bool {
	_, params, found := strings.Cut(v, ";")
	if !found {
		return false
	}
	for param := range strings.SplitSeq(params, ";") {
		key, _, _ := strings.Cut(param, "=")
		if strings.Contains(key, "*") {
			return true
		}
	}
	return false
}

// delimGuard copies a part's content, refusing a line that starts with the
// part's delimiter without being one to Go ("--BOUNDARYx"): parsers that
// match the delimiter as a prefix take it for the start of a new part,
// whose name fieldseal never saw.
type delimGuard struct {
	w     io.Writer
	delim []byte // "\n--" + boundary
	tail  []byte // the end of what was written, for a delimiter split across writes
}

func (g *delimGuard) Write(b []byte) (int, error) {
	scan := append(g.tail, b...)
	if bytes.Contains(scan, g.delim) {
		return 0, fmt.Errorf("%w: a part holds a line that starts with its delimiter", ErrInvalidForm)
	}
	keep := min(len(scan), len(g.delim)-1)
	g.tail = append(g.tail[:0], scan[len(scan)-keep:]...)
	return g.w.Write(b)
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
func cloneHeader(h textproto.MIMEHeader) textproto.MIMEHeader {
	c := make(textproto.MIMEHeader, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return c
}
