package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// failAfter is a sink that takes n writes and fails the rest, as a full
// disk does.
type failAfter struct {
	n   int
	buf bytes.Buffer
}

var errDiskFull = errors.New("no space left on device")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errDiskFull
	}
	f.n--
	return f.buf.Write(p)
}

func TestSyncMakesWrittenEventsDurableOrReportsTheLoss(t *testing.T) {
	t.Run("events written and synced are in the file, and the chain verifies", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.log")
		w, err := Open(path, Options{Now: fixedClock()})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(Event{Type: TypeKey, Outcome: "admin_rotate", Primary: 2}); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"outcome":"admin_rotate"`) {
			t.Fatalf("the synced event is not in the file:\n%s", b)
		}
		if _, err := Verify(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("after a failed write Sync reports the failure", func(t *testing.T) {
		sink := &failAfter{n: 1} // the start event only
		w := mustNew(t, sink, Options{Now: fixedClock()})
		if err := w.Write(Event{Type: TypeKey, Outcome: "admin_rotate"}); !errors.Is(err, errDiskFull) {
			t.Fatalf("Write on a full sink: %v", err)
		}
		if err := w.Sync(); !errors.Is(err, errDiskFull) {
			t.Fatalf("Sync after a failed write: %v, want the write's error", err)
		}
	})
}

func TestKeyEventNamesTheLookupVersionMove(t *testing.T) {
	var buf bytes.Buffer
	w := mustNew(t, &buf, Options{Now: fixedClock()})
	for _, e := range []Event{
		{Type: TypeKey, Outcome: "admin_rotate-lookup", Primary: 3, LookupFrom: 1, Lookup: 3},
		{Type: TypeKey, Outcome: "admin_rotate", Primary: 3},
	} {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[1], `"primary":3,"lookup_from":1,"lookup":3`) {
		t.Errorf("the rotate-lookup event does not name the move: %s", lines[1])
	}
	if strings.Contains(lines[2], `"lookup`) {
		t.Errorf("an event that moves no lookup version names one: %s", lines[2])
	}
	if _, err := Verify(&buf); err != nil {
		t.Fatal(err)
	}
}
