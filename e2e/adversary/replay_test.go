package adversarye2e_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestReplayedRingFileDoesNotResurrectADestroyedKey: someone who can write
// the ring file (a restored volume snapshot, a stale ConfigMap/Secret
// copy, an attacker with the sidecar's file access) puts back the ring as
// it was before v1 was retired and destroyed. The file is genuine (its MAC
// verifies under the master key), so nothing but its history tells it is
// old. The promise: a retired or destroyed version never seals again and
// a destroyed one never opens again; a running sidecar must keep the ring
// it has (and say so) rather than go back.
func TestReplayedRingFileDoesNotResurrectADestroyedKey(t *testing.T) {
	st, s, ring := newRingSidecar(t)
	old := readFile(t, ring)
	s.Serve(t)
	if v := put(t, s, st, "1", "one@example.com"); v != 1 {
		t.Fatalf("first value sealed under v%d, want v1", v)
	}
	shredded := st.stored(t, "1")

	// The operator rotates, then retires and crypto-shreds v1.
	keys(t, s, "rotate")
	keys(t, s, "rotate-lookup")
	// The sidecar refreshes every second: a grace period of two
	// refreshes covers it.
	testproc.Poll(t, 15*time.Second, func() error {
		if res := s.Exec(t, "keys", "retire", "1", "--grace", "2s", "--config", s.ConfigFile); res.Code != 0 {
			return fmt.Errorf("keys retire 1: exit %d: %s", res.Code, res.Stderr)
		}
		return nil
	})
	keys(t, s, "destroy", "1", "--yes", "--grace", "2s")
	// The sidecar sees the destroy at its next refresh (within a second).
	testproc.Poll(t, 15*time.Second, func() error {
		if v := put(t, s, st, "2", "two@example.com"); v != 2 {
			return fmt.Errorf("sealed under v%d, want v2", v)
		}
		if resp := s.Do(t, getReq("1")); resp.Status == 200 {
			return fmt.Errorf("a value under destroyed v1 still opens: %s", resp.Body)
		}
		return nil
	})

	// The replay: the genuine ring file as it was when v1 was primary.
	// A sidecar that refuses the replay logs keys_error and keeps v2.
	replaceAndWait(t, s, ring, old)
	var errs []error
	if got := put(t, s, st, "3", "three@example.com"); got != 2 {
		errs = append(errs, fmt.Errorf("after the replay the application received a new value sealed under v%d, want v2 (v1 is retired and destroyed)", got))
	}
	if resp := s.Do(t, getReq("1")); resp.Status == 200 {
		errs = append(errs, fmt.Errorf("after the replay a value sealed under destroyed v1 (%.24s...) opens again: %s", shredded, resp.Body))
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestRotationAfterAReplayNeverReusesAVersionID: the ring file is put back
// to its v1-only state (a replay as above, or a restore of an old copy
// without `keys restore`), and the rotation CronJob runs `keys rotate`
// before anyone notices. Version ids are the only key reference a sealed
// value carries, and the replayed ring keeps its ring id, so the new
// version must not take an id that already sealed values (v2 here): the
// store would then hold "v2" values under two different keys, and one set
// of them stops opening whichever ring is put back. The rotation issues v3
// (the highest id issued is recorded beside the ring), and the running
// sidecar refuses the rotated ring, which lost v2, and keeps sealing under
// the genuine v2. What stays lost is v2's key in the file: a process that
// starts on it reports v2 values as unknown (docs/keys.md).
func TestRotationAfterAReplayNeverReusesAVersionID(t *testing.T) {
	st, s, ring := newRingSidecar(t)
	old := readFile(t, ring)
	keys(t, s, "rotate")
	s.Serve(t)
	if v := put(t, s, st, "a", "a@example.com"); v != 2 {
		t.Fatalf("sealed under v%d, want v2", v)
	}

	replace(t, ring, old)
	keys(t, s, "rotate") // the CronJob's routine rotation
	var rotated struct{ Primary uint32 }
	if err := json.Unmarshal(readFile(t, ring), &rotated); err != nil {
		t.Fatal(err)
	}
	if rotated.Primary != 3 {
		t.Fatalf("the rotation on the replayed ring issued v%d, want v3 (v2 already sealed values)", rotated.Primary)
	}
	// The sidecar refuses the ring that lost v2.
	testproc.WaitFileContains(t, s.LogFile, 15*time.Second, `"refused":"lost_version"`)
	if v := put(t, s, st, "b", "b@example.com"); v != 2 {
		t.Fatalf("sealed under v%d, want the genuine v2 still in service", v)
	}
	wantOpen(t, s, "sealed under v2", "a", "b")
}

// TestRecreatedRingIsNotServedInPlaceOfTheOld: the ring file is deleted
// and made again with `keys init` (a new ring id, a new v1) while a
// sidecar serves the old one. Rings carry an identity so that a re-created
// ring is never mixed with the old one, and sealed values name only a
// version: a sidecar that swaps to the new ring seals "v1" values under a
// second key beside the old "v1" values in the same store, and the old
// ones stop opening. It must keep the ring it has (and report the change).
func TestRecreatedRingIsNotServedInPlaceOfTheOld(t *testing.T) {
	st, s, ring := newRingSidecar(t)
	s.Serve(t)
	if v := put(t, s, st, "old", "old@example.com"); v != 1 {
		t.Fatalf("sealed under v%d, want v1", v)
	}
	// `keys init` with the same config and master key in another
	// directory, then the new ring in place of the old.
	other := t.TempDir()
	for _, f := range []string{"fieldseal.yaml", "master.key"} {
		if err := os.WriteFile(filepath.Join(other, f), readFile(t, filepath.Join(s.Dir, f)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	testproc.MustExec(t, testproc.Cmd{Dir: other}, fieldsealBin, "keys", "init", "--config", filepath.Join(other, "fieldseal.yaml"))
	replaceAndWait(t, s, ring, readFile(t, filepath.Join(other, "ring.json")))
	put(t, s, st, "new", "new@example.com")
	wantOpen(t, s, "after the ring was re-created", "old", "new")
}
