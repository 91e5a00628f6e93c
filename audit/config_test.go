package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/strictyaml"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // error substring, "" = valid
	}{
		{"stdout is the default sink", "audit: {}\n", ""},
		{"a file sink needs a file", "audit: {sink: file}\n", "audit: sink file needs file"},
		{"a file without the file sink is refused", "audit: {file: /tmp/x}\n", "sink is not"},
		{"an unknown sink is refused", "audit: {sink: syslog}\n", `sink "syslog"`},
		{"unknown keys are refused", "audit:\n  path: /tmp/x\n", `a.yaml:2: unknown key "path"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var root struct {
				Audit Config `yaml:"audit"`
			}
			_, err := strictyaml.Decode([]byte(tt.doc), "a.yaml", &root)
			if err == nil {
				err = root.Audit.Check()
			}
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("a file sink opens and verifies", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a.jsonl")
		w, err := OpenConfig(Config{Sink: SinkFile, File: path}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(requestEvent(1)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := Verify(f)
		if err != nil || !strings.HasSuffix(rep.String(), ": ok") || rep.Lines != 2 {
			t.Fatalf("Verify = %v, %v", rep, err)
		}
	})
}
