package localkeys_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// ringWithValues makes a ring with versions 1..3 (3 primary) and one value
// sealed under each version.
func ringWithValues(t *testing.T) (path string, mk localkeys.MasterKey, sealed map[uint32][]byte) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "ring.json")
	mk, _ = sidecartest.MasterKey(t)
	if _, err := localkeys.Init(path, mk); err != nil {
		t.Fatal(err)
	}
	sealed = map[uint32][]byte{}
	for id := uint32(1); id <= 3; id++ {
		if id > 1 {
			if _, err := localkeys.Rotate(path, mk); err != nil {
				t.Fatal(err)
			}
		}
		r, err := localkeys.New(path, mk).Load(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if sealed[id], err = r.Seal(nil, []byte("jane@example.com"), crypto.TypeString, crypto.ModeRandom, crypto.AAD(nil, "email", "")); err != nil {
			t.Fatal(err)
		}
	}
	return path, mk, sealed
}

func open(t *testing.T, path string, mk localkeys.MasterKey, v []byte) (string, error) {
	t.Helper()
	r, err := localkeys.New(path, mk).Load(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pt, _, _, err := r.Open(nil, v, crypto.AAD(nil, "email", ""))
	return string(pt), err
}

func TestRetireMinVersionDestroy(t *testing.T) {
	path, mk, sealed := ringWithValues(t)
	t.Run("the primary can be neither retired nor destroyed", func(t *testing.T) {
		if _, err := localkeys.Retire(path, mk, 3, crypto.Grace{}); !errors.Is(err, localkeys.ErrLifecycle) {
			t.Fatalf("retire primary: %v", err)
		}
		if _, err := localkeys.Destroy(path, mk, 3, crypto.Grace{}); !errors.Is(err, localkeys.ErrLifecycle) {
			t.Fatalf("destroy primary: %v", err)
		}
	})
	t.Run("a version primary until a rotation moments ago may be neither retired nor destroyed", func(t *testing.T) {
		g := crypto.Grace{Period: crypto.DefaultGrace}
		if _, err := localkeys.Retire(path, mk, 2, g); !errors.Is(err, crypto.ErrGrace) {
			t.Fatalf("retire v2 just after the rotation to v3: %v", err)
		}
		if _, err := localkeys.Destroy(path, mk, 2, g); !errors.Is(err, crypto.ErrGrace) {
			t.Fatalf("destroy v2 just after the rotation to v3: %v", err)
		}
		if pt, err := open(t, path, mk, sealed[2]); err != nil || pt != "jane@example.com" {
			t.Fatalf("v2 after the refused changes: %q, %v", pt, err)
		}
		// Once the period is over the same change is accepted.
		g.Now = time.Now().Add(crypto.DefaultGrace + time.Minute)
		if _, err := localkeys.Retire(path, mk, 2, g); err != nil {
			t.Fatalf("retire v2 after the grace period: %v", err)
		}
	})
	t.Run("a retired version still opens and is listed as retired", func(t *testing.T) {
		st, err := localkeys.Retire(path, mk, 2, crypto.Grace{})
		if err != nil {
			t.Fatal(err)
		}
		if !st.Keys[1].Retired {
			t.Fatalf("status %+v", st.Keys)
		}
		if pt, err := open(t, path, mk, sealed[2]); err != nil || pt != "jane@example.com" {
			t.Fatalf("open v2 = %q %v", pt, err)
		}
	})
	t.Run("the lookup version can be neither retired, destroyed nor put below the minimum until it moves", func(t *testing.T) {
		// The first rotation pinned the lookup version to v1.
		for what, err := range map[string]error{
			"retire":      second(localkeys.Retire(path, mk, 1, crypto.Grace{})),
			"destroy":     second(localkeys.Destroy(path, mk, 1, crypto.Grace{})),
			"min-version": second(localkeys.SetMinVersion(path, mk, 2, crypto.Grace{})),
		} {
			if !errors.Is(err, localkeys.ErrLookupVersion) || !strings.Contains(err.Error(), "rotate-lookup") {
				t.Fatalf("%s v1: %v, want ErrLookupVersion naming rotate-lookup", what, err)
			}
		}
		st, err := localkeys.RotateLookup(path, mk)
		if err != nil || st.Primary != 3 || st.Lookup != 3 || !st.Keys[2].Lookup || len(st.Keys) != 3 {
			t.Fatalf("rotate-lookup: %+v %v", st, err)
		}
	})
	t.Run("a minimum version stops older values opening until it is lowered", func(t *testing.T) {
		if _, err := localkeys.SetMinVersion(path, mk, 2, crypto.Grace{}); err != nil {
			t.Fatal(err)
		}
		if pt, err := open(t, path, mk, sealed[1]); !errors.Is(err, crypto.ErrKeyDestroyed) || pt != "" {
			t.Fatalf("open v1 = %q %v", pt, err)
		}
		if _, err := localkeys.SetMinVersion(path, mk, 0, crypto.Grace{}); err != nil {
			t.Fatal(err)
		}
		if pt, err := open(t, path, mk, sealed[1]); err != nil || pt != "jane@example.com" {
			t.Fatalf("open v1 after lowering = %q %v", pt, err)
		}
	})
	t.Run("a destroyed version reports destroyed, never plaintext, and its id is not reused", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		st, err := localkeys.Destroy(path, mk, 1, crypto.Grace{})
		if err != nil {
			t.Fatal(err)
		}
		after, _ := os.ReadFile(path)
		if len(after) >= len(before) || !st.Keys[0].Destroyed {
			t.Fatalf("wrapped key not pruned: %d -> %d bytes; %+v", len(before), len(after), st.Keys)
		}
		if pt, err := open(t, path, mk, sealed[1]); !errors.Is(err, crypto.ErrKeyDestroyed) || pt != "" {
			t.Fatalf("open v1 = %q %v", pt, err)
		}
		if pt, err := open(t, path, mk, sealed[3]); err != nil || pt != "jane@example.com" {
			t.Fatalf("open v3 = %q %v", pt, err)
		}
		st, err = localkeys.Rotate(path, mk)
		if err != nil || st.Primary != 4 || st.Lookup != 3 {
			t.Fatalf("rotate after destroy: %+v %v", st, err)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestVerifyAndBadVersions(t *testing.T) {
	path, mk, sealed := ringWithValues(t)
	if rep, err := localkeys.Verify(path, mk); err != nil || rep.Metadata != "ok" || len(rep.Versions) != 3 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	editRing(t, path, func(m map[string]any) {
		k := m["keys"].([]any)[1].(map[string]any)
		w := k["wrapped"].(string)
		k["wrapped"] = w[:10] + strings.ToUpper(w[10:11]) + strings.ToLower(w[10:11]) + w[12:]
		if k["wrapped"] == w {
			k["wrapped"] = w[:10] + "AAAA" + w[14:]
		}
	})
	t.Run("verify names the corrupted version and fails", func(t *testing.T) {
		rep, err := localkeys.Verify(path, mk)
		if !errors.Is(err, localkeys.ErrVerify) || !slices.Equal(rep.Bad(), []uint32{2}) || !strings.Contains(err.Error(), "v2") {
			t.Fatalf("Verify = %+v, %v", rep, err)
		}
	})
	t.Run("the other versions still load and open; the bad one is reported", func(t *testing.T) {
		p := localkeys.New(path, mk)
		r, err := p.Load(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.Unreadable()[2]; !ok || len(p.Unreadable()) != 1 {
			t.Fatalf("Unreadable = %v", p.Unreadable())
		}
		for _, id := range []uint32{1, 3} {
			if _, _, _, err := r.Open(nil, sealed[id], crypto.AAD(nil, "email", "")); err != nil {
				t.Fatalf("v%d: %v", id, err)
			}
		}
	})
}

func TestRewrapMovesTheRingToANewMasterKey(t *testing.T) {
	path, mk, sealed := ringWithValues(t)
	newMK, _ := sidecartest.MasterKey(t)
	if _, err := localkeys.Rewrap(path, mk, newMK); err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.New(path, mk).Load(context.Background(), nil); !errors.Is(err, localkeys.ErrWrongMasterKey) {
		t.Fatalf("old master key: %v, want ErrWrongMasterKey", err)
	}
	for id, v := range sealed {
		if pt, err := open(t, path, newMK, v); err != nil || pt != "jane@example.com" {
			t.Fatalf("v%d under the new master key: %q %v", id, pt, err)
		}
	}
}

func TestMasterKeyFileMustBePrivateAndEnvIsCleared(t *testing.T) {
	_, text := sidecartest.MasterKey(t)
	file := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(file, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod(file, 0o640)
	if _, err := localkeys.LoadMasterKey(file, ""); !errors.Is(err, localkeys.ErrMasterKeyExposed) || !strings.Contains(err.Error(), "0640") {
		t.Fatalf("group-readable file: %v", err)
	}
	os.Chmod(file, 0o600)
	if _, err := localkeys.LoadMasterKey(file, ""); err != nil {
		t.Fatalf("private file: %v", err)
	}
	t.Setenv("FS_TEST_MK_CLEAR", text)
	if _, err := localkeys.LoadMasterKey("", "FS_TEST_MK_CLEAR"); err != nil {
		t.Fatal(err)
	}
	if _, set := os.LookupEnv("FS_TEST_MK_CLEAR"); set {
		t.Fatal("the master key is still in the environment")
	}
}

func TestRotateIf(t *testing.T) {
	path, mk, sealed := ringWithValues(t)
	t.Run("a false condition leaves the file as it was", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		st, err := localkeys.RotateIf(path, mk, func(p crypto.KeyInfo) bool {
			return p.ID != 3 || time.Since(p.Created) > 24*time.Hour
		})
		if err != nil || st.Rotated || st.Primary != 3 {
			t.Fatalf("RotateIf = %+v, %v; want v3 primary, not rotated", st, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatal("the ring file changed although nothing rotated")
		}
	})
	t.Run("racing rotations on the same condition create exactly one version", func(t *testing.T) {
		const rotators = 8
		var wg sync.WaitGroup
		var rotated atomic.Int32
		errs := make([]error, rotators)
		for i := range rotators {
			wg.Go(func() {
				st, err := localkeys.RotateIf(path, mk, func(p crypto.KeyInfo) bool { return p.ID == 3 })
				errs[i] = err
				if err == nil && st.Rotated {
					rotated.Add(1)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent RotateIf: %v", err)
		}
		st, err := localkeys.ReadStatus(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Keys) != 4 || st.Primary != 4 || rotated.Load() != 1 {
			t.Fatalf("%d versions, primary v%d, %d rotations reported; want 4, v4, 1", len(st.Keys), st.Primary, rotated.Load())
		}
		for id, v := range sealed {
			if pt, err := open(t, path, mk, v); err != nil || pt != "jane@example.com" {
				t.Fatalf("value under v%d after the rotation: %q, %v", id, pt, err)
			}
		}
	})
}

// TestLifecycleChangeThatChangesNothingWritesNothing: retiring a version
// already retired, setting the minimum it already has, or making the
// primary the lookup version when it already is, leaves the file
// byte for byte and calls no BeforeWrite hook (so no audit event claims a
// change), as the aws provider writes no secret version for it.
func TestLifecycleChangeThatChangesNothingWritesNothing(t *testing.T) {
	path, mk, _ := ringWithValues(t)
	if _, err := localkeys.RotateLookup(path, mk); err != nil { // v1 was the lookup version
		t.Fatal(err)
	}
	if _, err := localkeys.Retire(path, mk, 1, crypto.Grace{}); err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.SetMinVersion(path, mk, 2, crypto.Grace{}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hook := func(prev, next *localkeys.Status) error {
		t.Errorf("BeforeWrite called for a change that changes nothing (v%d -> v%d)", prev.Primary, next.Primary)
		return nil
	}
	for name, change := range map[string]func() (*localkeys.Status, error){
		"retire v1 again":     func() (*localkeys.Status, error) { return localkeys.Retire(path, mk, 1, crypto.Grace{}, hook) },
		"min version 2 again": func() (*localkeys.Status, error) { return localkeys.SetMinVersion(path, mk, 2, crypto.Grace{}, hook) },
		"rotate-lookup again": func() (*localkeys.Status, error) { return localkeys.RotateLookup(path, mk, hook) },
	} {
		st, err := change()
		if err != nil || st == nil || st.Primary != 3 {
			t.Errorf("%s: status %+v, %v; want the ring's status (primary v3)", name, st, err)
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Errorf("%s rewrote the ring file", name)
		}
	}
}
