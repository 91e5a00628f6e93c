package localkeys_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// BeforeWrite sees the ring as it is and as it will be, before the file
// is written; its error leaves the file as it was.
func TestBeforeWriteSeesTheChangeAndCanAbortIt(t *testing.T) {
	mk, _ := sidecartest.MasterKey(t)
	path := filepath.Join(t.TempDir(), "ring.json")
	var initNext *localkeys.Status
	st, err := localkeys.Init(path, mk, func(prev, next *localkeys.Status) error {
		if prev != nil {
			t.Errorf("Init: prev %+v, want nil for a new ring", prev)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Init: the ring file exists before the hook returned (%v)", err)
		}
		initNext = next
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if initNext == nil || initNext.Revision != st.Revision || initNext.Primary != 1 {
		t.Fatalf("Init hook saw %+v; the ring written is %+v", initNext, st)
	}

	t.Run("a hook error aborts the change and leaves the file", func(t *testing.T) {
		refused := errors.New("audit trail full")
		if _, err := localkeys.Rotate(path, mk); err != nil { // v2, for the lookup move below
			t.Fatal(err)
		}
		before, _ := os.ReadFile(path)
		_, err := localkeys.RotateIf(path, mk, func(crypto.KeyInfo) bool { return true },
			func(_, _ *localkeys.Status) error { return refused })
		if !errors.Is(err, refused) {
			t.Fatalf("RotateIf with a failing hook: %v, want its error", err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatal("the ring file changed although the hook refused")
		}
	})
	t.Run("the hook sees the lookup version move from and to", func(t *testing.T) {
		var from, to uint32
		st, err := localkeys.RotateLookup(path, mk, func(prev, next *localkeys.Status) error {
			from, to = prev.Lookup, next.Lookup
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if from != 1 || to != 2 || st.Lookup != 2 {
			t.Fatalf("lookup moved %d -> %d (ring says %d), want 1 -> 2", from, to, st.Lookup)
		}
	})
	t.Run("a rotation that is not due calls no hook", func(t *testing.T) {
		called := false
		st, err := localkeys.RotateIf(path, mk, func(crypto.KeyInfo) bool { return false },
			func(_, _ *localkeys.Status) error { called = true; return nil })
		if err != nil || st.Rotated || called {
			t.Fatalf("rotated %v, hook called %v, err %v", st.Rotated, called, err)
		}
	})
}
