package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// openTrail opens a Writer on a new audit.log in a test directory.
func openTrail(t *testing.T) (string, *Writer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return path, w
}

// rename moves an audit file aside, as a rotation tool does.
func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// reopen makes w reopen its path, as it does on SIGHUP after a rotation.
func reopen(t *testing.T, w *Writer) {
	t.Helper()
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
}

// writeN writes n request events.
func writeN(t *testing.T, w *Writer, n int) {
	t.Helper()
	for i := range n {
		if err := w.Write(requestEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChainAcrossRotatedFiles(t *testing.T) {
	t.Run("rename then Reopen continues the chain in a new file", func(t *testing.T) {
		path, w := openTrail(t)
		writeN(t, w, 3)
		rename(t, path, path+".1")
		writeN(t, w, 1) // still into the renamed file, as before the signal
		reopen(t, w)
		writeN(t, w, 2)
		seq, hash := w.Last()
		w.Close()

		// The new file alone verifies, and says it continues.
		rep, err := VerifyFiles([]string{path})
		if err != nil || !rep.Continues() || rep.FirstSeq != 5 || rep.Lines != 3 {
			t.Fatalf("new file alone: %+v, %v", rep, err)
		}
		// Both, in either order, verify as one chain from genesis.
		for _, order := range [][]string{{path + ".1", path}, {path, path + ".1"}} {
			rep, err := VerifyFiles(order)
			if err != nil || rep.Continues() || rep.Files != 2 || rep.Lines != 8 || rep.CheckAnchor(seq, hash) != nil {
				t.Fatalf("VerifyFiles(%q) = %+v, %v", order, rep, err)
			}
		}
	})
	t.Run("copytruncate starts the emptied file with a linking start line", func(t *testing.T) {
		path, w := openTrail(t)
		writeN(t, w, 3)
		sidecartest.CopyTruncate(t, path, path+".1")
		writeN(t, w, 2)
		w.Close()
		if rep, err := VerifyFiles([]string{path}); err != nil || !rep.Continues() || rep.Starts != 1 {
			t.Fatalf("truncated file alone: %+v, %v", rep, err)
		}
		if rep, err := VerifyFiles([]string{path, path + ".1"}); err != nil || rep.Continues() || rep.Lines != 7 {
			t.Fatalf("both: %+v, %v", rep, err)
		}
	})
	t.Run("a restart on an emptied file links to the old file through the state", func(t *testing.T) {
		path, w := openTrail(t)
		writeN(t, w, 2)
		w.Close()
		rename(t, path, path+".1")
		w, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		writeN(t, w, 2)
		w.Close()
		if rep, err := VerifyFiles([]string{path + ".1", path}); err != nil || rep.Continues() || rep.Lines != 6 || rep.Starts != 2 {
			t.Fatalf("%+v, %v", rep, err)
		}
	})
	t.Run("a removed middle file is reported at the first line after the gap", func(t *testing.T) {
		path, w := openTrail(t)
		for i := 2; i >= 1; i-- {
			writeN(t, w, 2)
			rename(t, path, path+"."+string(rune('0'+i)))
			reopen(t, w)
		}
		writeN(t, w, 1)
		w.Close()
		if _, err := VerifyFiles([]string{path, path + ".1", path + ".2"}); err != nil {
			t.Fatalf("all three: %v", err)
		}
		rep, err := VerifyFiles([]string{path, path + ".2"})
		if !errors.Is(err, ErrBroken) || rep.BrokenFile != path || rep.BrokenLine != 1 {
			t.Fatalf("middle file removed: %+v, %v", rep, err)
		}
	})
	t.Run("a removed line in a rotated file is reported there", func(t *testing.T) {
		path, w := openTrail(t)
		writeN(t, w, 3)
		rename(t, path, path+".1")
		reopen(t, w)
		writeN(t, w, 1)
		w.Close()
		b, err := os.ReadFile(path + ".1")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(b), "\n")
		if err := os.WriteFile(path+".1", []byte(lines[0]+lines[2]+lines[3]), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := VerifyFiles([]string{path + ".1", path})
		if !errors.Is(err, ErrBroken) || rep.BrokenFile != path+".1" || rep.BrokenLine != 2 {
			t.Fatalf("%+v, %v", rep, err)
		}
	})
	t.Run("a file whose head lifetime was cut does not pass as a rotation", func(t *testing.T) {
		path, lines, _, _ := writeTrail(t) // two lifetimes of 8 lines in one file
		if err := os.WriteFile(path, []byte(strings.Join(bytesToStrings(lines[8:]), "")), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := VerifyFiles([]string{path})
		if !errors.Is(err, ErrBroken) || rep.BrokenLine != 1 {
			t.Fatalf("%+v, %v", rep, err)
		}
	})
	t.Run("a damaged chain state is refused, not silently restarted", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "audit.log")
		if err := os.WriteFile(stateFile(path), []byte("garbage\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("Open = %v", err)
		}
	})
}

func bytesToStrings(b [][]byte) []string {
	out := make([]string, len(b))
	for i := range b {
		out[i] = string(b[i])
	}
	return out
}
