package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// keyEvent is what these tests read back from an audit line.
type keyEvent struct {
	Type       string
	Outcome    string
	Reason     string
	Primary    uint32
	Revision   string
	Lookup     uint32
	LookupFrom uint32   `json:"lookup_from"`
	KeyIDs     []uint32 `json:"key_ids"`
}

// readKeyEvents returns the key events of the trail at path, in order;
// every line of a trail file must be JSON.
func readKeyEvents(t *testing.T, path string) []keyEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return keyEvents(t, b, false)
}

// keyEvents returns the key events among the lines of b, in order. With
// skipText, lines that do not start with "{" (a command's own error line
// on stderr, where the trail is written to stdout) are skipped; otherwise
// every line must be JSON.
func keyEvents(t *testing.T, b []byte, skipText bool) []keyEvent {
	t.Helper()
	var evs []keyEvent
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if skipText && !bytes.HasPrefix(sc.Bytes(), []byte("{")) {
			continue
		}
		var ev keyEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if ev.Type == audit.TypeKey {
			evs = append(evs, ev)
		}
	}
	return evs
}

func fileRevision(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// A key change is recorded once, by the event written before the ring
// file is replaced: it describes the ring as written (its revision is the
// file's), and rotate-lookup names the lookup version it moved from and to.
func TestKeyChangeEventDescribesTheRingItCommits(t *testing.T) {
	dir, _ := writeConfig(t, "")
	trail := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(filepath.Join(dir, "fieldseal.yaml"),
		[]byte("upstream: http://127.0.0.1:3000\n"+checkKeys+"audit:\n  sink: file\n  file: "+trail+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ring := filepath.Join(dir, "keys/ring.json")
	mk := testproc.MustExec(t, testproc.Cmd{}, fieldsealBin, "keys", "master-key")
	if err := os.MkdirAll(filepath.Dir(ring), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys/master.key"), mk, 0o600); err != nil {
		t.Fatal(err)
	}
	revisions := map[string]string{}
	for _, sub := range []string{"init", "rotate", "rotate-lookup"} {
		testproc.MustExec(t, testproc.Cmd{Dir: dir}, fieldsealBin, "keys", sub, "--config", "fieldseal.yaml")
		revisions["admin_"+sub] = fileRevision(t, ring)
	}
	evs := readKeyEvents(t, trail)
	if len(evs) != 3 {
		t.Fatalf("%d key events, want one for each of init, rotate, rotate-lookup: %+v", len(evs), evs)
	}
	for i, want := range []keyEvent{
		{Outcome: "admin_init", Primary: 1, KeyIDs: []uint32{1}},
		{Outcome: "admin_rotate", Primary: 2, KeyIDs: []uint32{1, 2}},
		{Outcome: "admin_rotate-lookup", Primary: 2, LookupFrom: 1, Lookup: 2, KeyIDs: []uint32{1, 2}},
	} {
		got := evs[i]
		want.Type, want.Revision = audit.TypeKey, revisions[want.Outcome]
		if !reflect.DeepEqual(got, want) {
			t.Errorf("event %d: %+v, want %+v", i, got, want)
		}
	}
}

// A change whose event was written but whose write then failed (here a
// racing init created the ring file first) gets a second event, marked
// failed, for the same revision: the trail says the change was tried and
// not made.
func TestKeyChangeThatFailsAfterItsEventGetsAFailedEvent(t *testing.T) {
	dir := t.TempDir()
	trailFile, ring := filepath.Join(dir, "audit.log"), filepath.Join(dir, "ring.json")
	text, err := localkeys.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	mk, err := localkeys.ParseMasterKey(text)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := openCLITrail(&audit.Config{Sink: audit.SinkFile, File: trailFile}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	change := &keyChange{trail: trail, sub: "init"}
	racer := func(_, _ *localkeys.Status) error { return os.WriteFile(ring, []byte("{}"), 0o600) }
	st, err := localkeys.Init(ring, mk, change.local(), racer)
	change.done(err)
	if !errors.Is(err, localkeys.ErrRingExists) {
		t.Fatalf("init that lost the race: %v, want ErrRingExists", err)
	}
	if ferr := trail.finish(change, localAudit(st, 0), err); !errors.Is(ferr, localkeys.ErrRingExists) {
		t.Fatalf("finish: %v, want the command's error", ferr)
	}
	evs := readKeyEvents(t, trailFile)
	if len(evs) != 2 || evs[0].Reason != "" || evs[1].Reason != "failed" || evs[0].Revision == "" ||
		evs[1].Revision != evs[0].Revision || evs[1].Primary != 1 {
		t.Fatalf("events %+v; want the change's event, then the same change marked failed", evs)
	}
	if rep, err := audit.VerifyFiles([]string{trailFile}); err != nil {
		t.Fatalf("audit verify: %v (%v)", err, rep)
	}
}
