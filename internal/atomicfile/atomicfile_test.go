package atomicfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/atomicfile"
)

func TestCreateNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring.json")
	if err := atomicfile.Create(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Create(path, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create = %v, want fs.ErrExist", err)
	}
	wantFile(t, path, "first")
}

func TestReplaceSwapsTheContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring.json")
	for _, content := range []string{"old", "new"} {
		if err := atomicfile.Replace(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		wantFile(t, path, content)
	}
}

// wantFile checks path's content, that its mode is 0600 and that no
// temporary file is left beside it.
func wantFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != want {
		t.Fatalf("%s holds %q (%v), want %q", path, b, err, want)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %d entries (%v), want only %s", len(entries), err, filepath.Base(path))
	}
}

func TestAMissingDirectoryIsNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent", "ring.json")
	err := atomicfile.Create(path, []byte("x"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "directory") || !strings.Contains(err.Error(), filepath.Dir(path)) {
		t.Errorf("Create in a missing directory: %v; want fs.ErrNotExist naming the directory", err)
	}
}
