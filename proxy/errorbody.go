package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"text/template"

	"github.com/fieldseal/fieldseal/internal/jsonerror"

	"github.com/fieldseal/fieldseal/rewrite"
)

// Error body formats (the `errors.format` config key).
const (
	ErrorFormatFieldseal = "fieldseal" // {"error":{"code":..,"message":..,"request_id":..}} (default)
	ErrorFormatProblem   = "problem"   // RFC 9457 application/problem+json
	ErrorFormatTemplate  = "template"  // an operator's text/template
)

// ErrorsSpec is the `errors:` config section: the shape of the bodies of
// errors fieldseal answers itself (clients of an application parse that
// application's error shape). Whatever the shape, the status, the stable
// code and the request id (also in the X-Request-ID header) are kept.
type ErrorsSpec struct {
	Format string `yaml:"format"` // fieldseal (default) | problem | template
	// Template is a Go text/template rendered with ErrorInfo (.Status,
	// .Code, .Message, .RequestID, .Title); the function json writes a
	// value as a JSON string (or number), so that a message never breaks
	// the body's syntax: {"err":{{json .Code}},"id":{{json .RequestID}}}.
	Template string `yaml:"template"`
	// ContentType of template bodies; default "application/json; charset=utf-8".
	// With a JSON content type the template must render valid JSON.
	ContentType string `yaml:"content_type"`
}

// ErrorInfo is what an error body carries.
type ErrorInfo struct {
	Status    int    // HTTP status sent
	Title     string // the status text (http.StatusText)
	Code      string // stable error code (invalid_json, forbidden, ...)
	Message   string // what went wrong; never a field value
	RequestID string
}

// ErrorBody renders the body of an error fieldseal answers with itself.
// Implementations are used concurrently and must not change after New.
type ErrorBody interface {
	// Render appends the body for e to dst and returns it with its
	// Content-Type.
	Render(dst []byte, e ErrorInfo) (body []byte, contentType string)
}

// Check validates the section without rendering anything.
func (s ErrorsSpec) Check() error {
	_, err := s.Compile()
	return err
}

// Compile builds the ErrorBody the section describes. A template is parsed
// and rendered once with sample values; a JSON content type requires that
// rendering to be valid JSON.
func (s ErrorsSpec) Compile() (ErrorBody, error) {
	if s.Format != ErrorFormatTemplate && (s.Template != "" || s.ContentType != "") {
		return nil, fmt.Errorf("errors: template and content_type need format %q", ErrorFormatTemplate)
	}
	switch s.Format {
	case "", ErrorFormatFieldseal:
		return fieldsealBody{}, nil
	case ErrorFormatProblem:
		return problemBody{}, nil
	case ErrorFormatTemplate:
		return compileTemplate(s.Template, s.ContentType)
	}
	return nil, fmt.Errorf("errors: format %q is not %q, %q or %q", s.Format, ErrorFormatFieldseal, ErrorFormatProblem, ErrorFormatTemplate)
}

type fieldsealBody struct{}

func (fieldsealBody) Render(dst []byte, e ErrorInfo) ([]byte, string) {
	return jsonerror.Append(dst, e.Code, e.Message, e.RequestID), "application/json; charset=utf-8"
}

// problemBody is RFC 9457 "Problem Details for HTTP APIs": type about:blank
// (the problem is what the status says; §4.2.1), title the status text,
// status, detail the message, and the extension members code and
// request_id.
type problemBody struct{}

func (problemBody) Render(dst []byte, e ErrorInfo) ([]byte, string) {
	dst = append(dst, `{"type":"about:blank","title":`...)
	dst = rewrite.AppendString(dst, []byte(e.Title))
	dst = fmt.Appendf(dst, `,"status":%d,"detail":`, e.Status)
	dst = rewrite.AppendString(dst, []byte(e.Message))
	dst = append(dst, `,"code":`...)
	dst = rewrite.AppendString(dst, []byte(e.Code))
	dst = append(dst, `,"request_id":`...)
	dst = rewrite.AppendString(dst, []byte(e.RequestID))
	return append(dst, "}\n"...), "application/problem+json"
}

type templateBody struct {
	tmpl        *template.Template
	contentType string
}

func compileTemplate(text, contentType string) (ErrorBody, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("errors: format template needs template")
	}
	if contentType == "" {
		contentType = "application/json; charset=utf-8"
	}
	tmpl, err := template.New("errors.template").Option("missingkey=error").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("errors: template: %w", err)
	}
	t := templateBody{tmpl, contentType}
	sample := ErrorInfo{Status: 400, Title: "Bad Request", Code: "invalid_json", Message: `a "quoted" message\with escapes`, RequestID: "sample-id"}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, sample); err != nil {
		return nil, fmt.Errorf("errors: template: %w", err)
	}
	if isJSONType(contentType) && !json.Valid(buf.Bytes()) {
		return nil, fmt.Errorf("errors: template does not render valid JSON for content type %q (write values with {{json .Message}})", contentType)
	}
	return t, nil
}

// Render falls back to fieldseal's own body if the template fails, so an
// error is never answered with a half-written body.
func (t templateBody) Render(dst []byte, e ErrorInfo) ([]byte, string) {
	buf := bytes.NewBuffer(dst)
	if err := t.tmpl.Execute(buf, e); err != nil {
		return fieldsealBody{}.Render(dst[:0], e)
	}
	return buf.Bytes(), t.contentType
}

func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(ct), ";")
	mt = strings.TrimSpace(mt)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// errorInfo is what writeError renders for class c.
func errorInfo(c errorClass, status int, err error, requestID string) ErrorInfo {
	return ErrorInfo{Status: status, Title: http.StatusText(status), Code: c.Code, Message: c.Message(err), RequestID: requestID}
}
