package proxy

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// TestErrorBodyFormatsGolden renders every category in each configurable
// shape; testdata/errors_<format>.golden is the documented shape.
func TestErrorBodyFormatsGolden(t *testing.T) {
	specs := map[string]ErrorsSpec{
		"problem": {Format: ErrorFormatProblem},
		"template": {Format: ErrorFormatTemplate,
			Template: `{"fault":{"status":{{.Status}},"name":{{json .Code}},"text":{{json .Message}},"trace":{{json .RequestID}}}}`},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			body, err := spec.Compile()
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, c := range errorClasses {
				rec := httptest.NewRecorder()
				writeError(rec, body, c.Class, fmt.Errorf("example \"detail\": %w", c.Err), "0123456789abcdef")
				if !json.Valid(rec.Body.Bytes()) {
					t.Fatalf("%s: not JSON: %s", c.Code, rec.Body)
				}
				fmt.Fprintf(&b, "%d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
				if name == "template" {
					b.WriteString("\n")
				}
			}
			sidecartest.Golden(t, filepath.Join("testdata", "errors_"+name+".golden"), []byte(b.String()), *update)
		})
	}
}

func TestErrorsSpecCheck(t *testing.T) {
	tests := []struct {
		name string
		spec ErrorsSpec
		want string // "" = valid
	}{
		{"the default is fieldseal's shape", ErrorsSpec{}, ""},
		{"problem needs nothing else", ErrorsSpec{Format: "problem"}, ""},
		{"an unknown format is refused", ErrorsSpec{Format: "xml"}, `format "xml" is not`},
		{"a template without format template is refused", ErrorsSpec{Template: "{}"}, "need format"},
		{"format template without a template is refused", ErrorsSpec{Format: "template"}, "needs template"},
		{"a template that does not parse is refused", ErrorsSpec{Format: "template", Template: "{{.Code"}, "template:"},
		{"a template naming an unknown field is refused", ErrorsSpec{Format: "template", Template: `{"a":{{json .Nope}}}`}, "template:"},
		{"a JSON template that writes a message unescaped is refused",
			ErrorsSpec{Format: "template", Template: `{"message":"{{.Message}}"}`}, "valid JSON"},
		{"a non-JSON content type takes any text",
			ErrorsSpec{Format: "template", Template: "error {{.Code}} ({{.RequestID}})", ContentType: "text/plain"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Check()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Check = %v, want %q", err, tt.want)
			}
		})
	}
}
