package sidecartest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestGoldenComparesAndUpdates: a golden file that matches passes, one
// that differs fails naming the first differing line, a missing one fails,
// and update writes the file (creating its directory) so that it passes.
func TestGoldenComparesAndUpdates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "testdata", "x.golden")
	if r := testproc.Record(t, func(tb testing.TB) { Golden(tb, path, []byte("a\nb\n"), false) }); r.Fatal == "" {
		t.Errorf("a missing golden file passed")
	}
	if r := testproc.Record(t, func(tb testing.TB) { Golden(tb, path, []byte("a\nb\n"), true) }); r.Fatal != "" || len(r.Errors) > 0 {
		t.Fatalf("update failed: %q %q", r.Fatal, r.Errors)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "a\nb\n" {
		t.Fatalf("update wrote %q (%v)", b, err)
	}
	if r := testproc.Record(t, func(tb testing.TB) { Golden(tb, path, []byte("a\nb\n"), false) }); r.Fatal != "" || len(r.Errors) > 0 {
		t.Errorf("the same content failed: %q %q", r.Fatal, r.Errors)
	}
	for got, line := range map[string]string{"a\nc\n": "line 2", "a\n": "line 2", "a\nb\nc\n": "line 3"} {
		r := testproc.Record(t, func(tb testing.TB) { Golden(tb, path, []byte(got), false) })
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], line) {
			t.Errorf("%q against %q: errors %q, want one naming %s", got, "a\nb\n", r.Errors, line)
		}
	}
}
