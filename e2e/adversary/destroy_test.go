package adversarye2e_test

import (
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestDestroyRightAfterRotateLosesNoNewWrite: an operator rotates, moves
// the lookup version and destroys v1 at once (as the docs' commands read
// in sequence). A running sidecar sees the new primary at its next
// periodic refresh, which this round moved from 1 minute to 15 minutes;
// until then it keeps sealing new writes under v1, which no ring holds any
// more. Those writes are lost for good. Either the ring must refuse to
// destroy (or retire) a version that was primary less than a refresh
// interval ago, or the sidecar must stop sealing under it: a write the
// application accepted must open.
func TestDestroyRightAfterRotateLosesNoNewWrite(t *testing.T) {
	st, up := newDocStore(t)
	// The default keys.refresh_interval (15m).
	s := newLocalSidecar(t, up, "keys:\n  provider: local\n  local:\n    ring_file: ring.json\n    master_key_file: master.key")
	s.Serve(t)
	if v := put(t, s, st, "before", "before@example.com"); v != 1 {
		t.Fatalf("sealed under v%d, want v1", v)
	}
	keys(t, s, "rotate")
	keys(t, s, "rotate-lookup")
	res := s.Exec(t, "keys", "destroy", "1", "--yes", "--config", s.ConfigFile)
	if res.Code != 0 {
		return // refused: nothing can be lost
	}
	v := put(t, s, st, "after", "after@example.com")
	if v == 0 {
		return // the sidecar refused the write
	}
	// A fresh process with the ring as it is now opens what the
	// application stored.
	stored := st.stored(t, "after")
	r := testproc.Exec(t, testproc.Cmd{Dir: s.Dir, Stdin: []byte(`{"email":"` + stored + `"}`)}, fieldsealBin,
		"decrypt", "--config", s.ConfigFile, "--route", "c")
	if r.Code != 0 || !strings.Contains(string(r.Stdout), "after@example.com") {
		t.Fatalf("a write accepted after `keys destroy 1` was sealed under v%d and no longer opens (exit %d): %s", v, r.Code, r.Stderr)
	}
}

// TestRetiredVersionNeverSealsAgain: `keys retire 1` right after `keys
// rotate` succeeds, yet a sidecar on the default refresh interval keeps
// sealing under v1 for up to 15 minutes: "retired versions open but never
// seal" holds for the ring file, not for what the application receives.
func TestRetiredVersionNeverSealsAgain(t *testing.T) {
	st, up := newDocStore(t)
	s := newLocalSidecar(t, up, "keys:\n  provider: local\n  local:\n    ring_file: ring.json\n    master_key_file: master.key")
	s.Serve(t)
	put(t, s, st, "before", "before@example.com")
	keys(t, s, "rotate")
	keys(t, s, "rotate-lookup")
	if res := s.Exec(t, "keys", "retire", "1", "--config", s.ConfigFile); res.Code != 0 {
		return // refused while v1 may still be in use as primary
	}
	if v := put(t, s, st, "after", "after@example.com"); v == 1 {
		t.Fatal("after `keys retire 1` succeeded, the application received a new value sealed under v1")
	}
}
