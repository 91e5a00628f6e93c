package localkeys_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// oldRing copies testdata/before-lookup (a ring written by the release
// before lookup versions) to a temporary directory and returns its ring
// path, master key and the deterministic value that release sealed.
func oldRing(t *testing.T) (string, localkeys.MasterKey, []byte) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"ring.json", "master.key"} {
		b, err := os.ReadFile(filepath.Join("testdata", "before-lookup", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mk, err := localkeys.LoadMasterKey(filepath.Join(dir, "master.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := os.ReadFile(filepath.Join("testdata", "before-lookup", "value.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "ring.json"), mk, bytes.TrimSpace(v)
}

func lookupValue(t *testing.T, path string, mk localkeys.MasterKey) []byte {
	t.Helper()
	r, err := localkeys.New(path, mk).Load(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return sidecartest.LookupProbe(t, r)
}

func TestLookupVersionAcrossRotations(t *testing.T) {
	path, mk, old := oldRing(t)
	t.Run("a ring written before lookup versions verifies and seals as it did", func(t *testing.T) {
		if rep, err := localkeys.Verify(path, mk); err != nil || rep.Metadata != "ok" {
			t.Fatalf("Verify = %+v, %v", rep, err)
		}
		st, err := localkeys.ReadStatus(path)
		if err != nil || st.Lookup != 2 {
			t.Fatalf("status: lookup v%d (want the primary v2), %v", st.Lookup, err)
		}
		if got := lookupValue(t, path, mk); !bytes.Equal(got, old) {
			t.Fatalf("lookup value %s, want the stored %s", got, old)
		}
	})
	t.Run("a routine rotation pins the lookup version to the primary it replaces", func(t *testing.T) {
		st, err := localkeys.Rotate(path, mk)
		if err != nil || st.Primary != 3 || st.Lookup != 2 {
			t.Fatalf("rotate: %+v %v", st, err)
		}
		if _, err := localkeys.Rotate(path, mk); err != nil {
			t.Fatal(err)
		}
		if got := lookupValue(t, path, mk); !bytes.Equal(got, old) {
			t.Fatalf("lookup value after rotations %s, want the stored %s", got, old)
		}
	})
	t.Run("rotate-lookup moves it to the primary", func(t *testing.T) {
		st, err := localkeys.RotateLookup(path, mk)
		if err != nil || st.Primary != 4 || st.Lookup != 4 || len(st.Keys) != 4 {
			t.Fatalf("rotate-lookup: %+v %v", st, err)
		}
		if got := lookupValue(t, path, mk); bytes.Equal(got, old) {
			t.Fatal("the lookup value did not change")
		}
		r, err := localkeys.New(path, mk).Load(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		prev, err := r.ForLookup(2)
		if err != nil {
			t.Fatal(err)
		}
		if v := sidecartest.LookupProbe(t, prev); !bytes.Equal(v, old) {
			t.Fatalf("value under v2 = %s, want %s", v, old)
		}
	})
}
