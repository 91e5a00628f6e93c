package sidecartest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Golden compares got with the golden file at path (a file under a
// package's testdata/, or a generated document). With update set (the
// test binary's -update flag) it first writes got there, creating the
// directory. A difference fails the test, naming the file, the first line
// that differs and the go test command that rewrites the file.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	test, _, _ := strings.Cut(t.Name(), "/")
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (go test -run '^%s$' -update creates it): %v", test, err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	line := 0
	for line < len(gotLines) && line < len(wantLines) && gotLines[line] == wantLines[line] {
		line++
	}
	t.Errorf("%s differs from what %s made, first at line %d:\n got: %.300q\nwant: %.300q\nrun go test -run '^%s$' -update if that is intended, and review the diff",
		path, test, line+1, lineAt(gotLines, line), lineAt(wantLines, line), test)
}

// lineAt is lines[i], or "(end of file)" past the last line.
func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end of file)"
}
