package localkeys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

func TestInitRotateStatus(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ring.json")
	mk, _ := sidecartest.MasterKey(t)

	st, err := localkeys.Init(path, mk)
	if err != nil {
		t.Fatal(err)
	}
	if st.Primary != 1 || len(st.Keys) != 1 || st.Keys[0].ID != 1 || !st.Keys[0].Primary || st.RingID == "" {
		t.Fatalf("Init status = %+v", st)
	}
	t.Run("the ring file is private to its owner", func(t *testing.T) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Fatalf("mode = %o, want 600", perm)
		}
	})
	t.Run("the ring file holds no plaintext key and names its format", func(t *testing.T) {
		data, _ := os.ReadFile(path)
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if f["format"] != localkeys.Format || f["ring_id"] != st.RingID {
			t.Fatalf("file = %s", data)
		}
	})

	for want := uint32(2); want <= 3; want++ {
		st, err = localkeys.Rotate(path, mk)
		if err != nil {
			t.Fatal(err)
		}
		if st.Primary != want || len(st.Keys) != int(want) {
			t.Fatalf("after rotate: %+v", st)
		}
	}
	t.Run("status lists every version with the last one primary", func(t *testing.T) {
		got, err := localkeys.ReadStatus(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Primary != 3 || len(got.Keys) != 3 || got.RingID != st.RingID || got.Revision != st.Revision {
			t.Fatalf("ReadStatus = %+v, want %+v", got, st)
		}
		for i, k := range got.Keys {
			if k.ID != uint32(i+1) || k.Primary != (k.ID == 3) || k.Created.IsZero() {
				t.Fatalf("key %d = %+v", i, k)
			}
		}
	})
	t.Run("rotation still leaves the file private", func(t *testing.T) {
		fi, _ := os.Stat(path)
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Fatalf("mode = %o, want 600", perm)
		}
	})
	t.Run("no temporary files are left behind", func(t *testing.T) {
		// The ring, its lock file (lockRing) and the record of the
		// highest version id issued, nothing else.
		entries, _ := os.ReadDir(dir)
		if len(entries) != 3 || entries[0].Name() != "ring.json" || entries[1].Name() != "ring.json.lock" || entries[2].Name() != "ring.json.maxid" {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("dir holds %v", names)
		}
	})
}

// TestRotationAfterAReplayIssuesANewID: the ring file is put back to an
// older copy of itself (v1 only) after v2 sealed values; a rotation then
// issues v3, never a second v2, and so does one after a restore of an
// older backup.
func TestRotationAfterAReplayIssuesANewID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring.json")
	mk, _ := sidecartest.MasterKey(t)
	if _, err := localkeys.Init(path, mk); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.json")
	if _, err := localkeys.WriteBackup(path, mk, backup, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.Rotate(path, mk); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := localkeys.Rotate(path, mk)
	if err != nil {
		t.Fatal(err)
	}
	if st.Primary != 3 {
		t.Fatalf("rotation on the replayed ring issued v%d, want v3", st.Primary)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.RestoreBackup(backup, mk, path); err != nil {
		t.Fatal(err)
	}
	if st, err = localkeys.Rotate(path, mk); err != nil || st.Primary != 4 {
		t.Fatalf("rotation after restoring an older backup: v%d, %v; want v4", st.Primary, err)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	mk, _ := sidecartest.MasterKey(t)
	tests := []struct {
		name    string
		content []byte
	}{
		{"an existing ring is kept", nil},
		{"an existing unrelated file is kept", []byte("not a ring")},
		{"an existing empty file is kept", []byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ring.json")
			if tc.content == nil {
				if _, err := localkeys.Init(path, mk); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			if _, err := localkeys.Init(path, mk); !errors.Is(err, localkeys.ErrRingExists) {
				t.Fatalf("Init error = %v, want ErrRingExists", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("Init changed the existing file")
			}
		})
	}
}

func TestMasterKeyStrength(t *testing.T) {
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	fill := func(n int, f func(i int) byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = f(i)
		}
		return b
	}
	_, good := sidecartest.MasterKey(t)
	goodRaw, _ := base64.StdEncoding.DecodeString(good)
	tests := []struct {
		name string
		text string
		want error // nil: accepted
	}{
		{"a generated key is accepted", good, nil},
		{"a generated key with a trailing newline is accepted", good + "\n", nil},
		{"the URL alphabet without padding is accepted", base64.RawURLEncoding.EncodeToString(goodRaw), nil},
		{"an empty key is missing", "", localkeys.ErrNoMasterKey},
		{"white space only is missing", " \n", localkeys.ErrNoMasterKey},
		{"text that is not base64 is refused", "this is not base64 at all!", localkeys.ErrWeakMasterKey},
		{"a 16-byte key is refused", b64(goodRaw[:16]), localkeys.ErrWeakMasterKey},
		{"a 64-byte key is refused", b64(append(goodRaw, goodRaw...)), localkeys.ErrWeakMasterKey},
		{"all zero bytes are refused", b64(make([]byte, 32)), localkeys.ErrWeakMasterKey},
		{"one repeated byte is refused", b64(bytes.Repeat([]byte{0xa7}, 32)), localkeys.ErrWeakMasterKey},
		{"few distinct bytes are refused", b64(fill(32, func(i int) byte { return byte(i % 4) })), localkeys.ErrWeakMasterKey},
		{"a counting sequence is refused", b64(fill(32, func(i int) byte { return byte(i) })), localkeys.ErrWeakMasterKey},
		{"a pass phrase is refused", b64([]byte("correct horse battery staple!!!!")), localkeys.ErrWeakMasterKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := localkeys.ParseMasterKey(tc.text)
			if tc.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if err != nil && strings.TrimSpace(tc.text) != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.text)) {
				t.Fatalf("error text holds the key: %v", err)
			}
		})
	}
	t.Run("two generated keys differ", func(t *testing.T) {
		a, _ := localkeys.GenerateMasterKey()
		b, _ := localkeys.GenerateMasterKey()
		if a == b {
			t.Fatal("same key twice")
		}
	})
	t.Run("a master key never prints its material", func(t *testing.T) {
		mk, _ := localkeys.ParseMasterKey(good)
		for _, s := range []string{fmt.Sprint(mk), fmt.Sprintf("%v %+v %#v %s", mk, mk, mk, mk)} {
			if strings.Contains(s, good[:10]) || !strings.Contains(s, "redacted") {
				t.Fatalf("printed %q", s)
			}
		}
	})
}

func TestLoadMasterKey(t *testing.T) {
	_, good := sidecartest.MasterKey(t)
	_, other := sidecartest.MasterKey(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "master.key")
	if err := os.WriteFile(file, []byte(good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	weakFile := filepath.Join(dir, "weak.key")
	os.WriteFile(weakFile, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))), 0o600)
	t.Setenv("FS_TEST_MK", other)
	t.Setenv("FS_TEST_EMPTY", "")

	ringPath := filepath.Join(dir, "ring.json")
	mkFile, err := localkeys.LoadMasterKey(file, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.Init(ringPath, mkFile); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		file, env string
		want      error
		mention   string
		opensRing bool
	}{
		{"the file is read when set", file, "", nil, "", true},
		{"the file wins over the environment", file, "FS_TEST_MK", nil, "", true},
		{"the environment is read when no file is set", "", "FS_TEST_MK", nil, "", false},
		{"a missing file is named in the error", filepath.Join(dir, "absent.key"), "FS_TEST_MK", os.ErrNotExist, "absent.key", false},
		{"a weak key in a file is refused naming the file", weakFile, "", localkeys.ErrWeakMasterKey, "weak.key", false},
		{"an unset variable is named in the error", "", "FS_TEST_UNSET_VAR", localkeys.ErrNoMasterKey, "FS_TEST_UNSET_VAR", false},
		{"an empty variable is named in the error", "", "FS_TEST_EMPTY", localkeys.ErrNoMasterKey, "FS_TEST_EMPTY", false},
		{"neither file nor variable is an error", "", "", localkeys.ErrNoMasterKey, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mk, err := localkeys.LoadMasterKey(tc.file, tc.env)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				_, err := localkeys.New(ringPath, mk).Load(context.Background(), nil)
				if tc.opensRing != (err == nil) {
					t.Fatalf("opens ring = %v (err %v), want %v", err == nil, err, tc.opensRing)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error = %v, want %v mentioning %q", err, tc.want, tc.mention)
			}
		})
	}
}

func TestWrongMasterKeyIsAClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring.json")
	mk, _ := sidecartest.MasterKey(t)
	wrong, _ := sidecartest.MasterKey(t)
	if _, err := localkeys.Init(path, mk); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	t.Run("loading with the wrong master key fails naming the file and version", func(t *testing.T) {
		_, err := localkeys.New(path, wrong).Load(context.Background(), nil)
		if !errors.Is(err, localkeys.ErrWrongMasterKey) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "v1") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("rotating with the wrong master key fails and writes nothing", func(t *testing.T) {
		if _, err := localkeys.Rotate(path, wrong); !errors.Is(err, localkeys.ErrWrongMasterKey) {
			t.Fatalf("error = %v", err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatal("ring file changed")
		}
	})
	t.Run("a zero master key is refused", func(t *testing.T) {
		if _, err := localkeys.Rotate(path, localkeys.MasterKey{}); !errors.Is(err, localkeys.ErrNoMasterKey) {
			t.Fatalf("error = %v", err)
		}
		if _, err := localkeys.New(path, localkeys.MasterKey{}).Load(context.Background(), nil); !errors.Is(err, localkeys.ErrNoMasterKey) {
			t.Fatalf("error = %v", err)
		}
	})
}

// editRing rewrites the ring file through f, as an attacker or a careless
// operator would.
func editRing(t *testing.T, path string, f func(m map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, _ := json.Marshal(m)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBadRingFiles(t *testing.T) {
	mk, _ := sidecartest.MasterKey(t)
	tests := []struct {
		name string
		edit func(m map[string]any)
		want error
	}{
		{"another format is refused", func(m map[string]any) { m["format"] = "fieldseal-local-ring/v9" }, localkeys.ErrBadRing},
		{"an unknown field is refused", func(m map[string]any) { m["plaintext"] = "oops" }, localkeys.ErrBadRing},
		{"a primary that is not in the ring is refused", func(m map[string]any) { m["primary"] = 9 }, localkeys.ErrBadRing},
		{"an empty key list is refused", func(m map[string]any) { m["keys"] = []any{} }, localkeys.ErrBadRing},
		{"a duplicate id is refused", func(m map[string]any) {
			k := m["keys"].([]any)
			m["keys"] = append(k, k[0])
		}, localkeys.ErrBadRing},
		{"a wrapped key moved to another version does not unwrap", func(m map[string]any) {
			k := m["keys"].([]any)
			k[0].(map[string]any)["wrapped"], k[1].(map[string]any)["wrapped"] = k[1].(map[string]any)["wrapped"], k[0].(map[string]any)["wrapped"]
		}, localkeys.ErrWrongMasterKey},
		{"a wrapped key moved to another ring does not unwrap", func(m map[string]any) { m["ring_id"] = "another-ring" }, localkeys.ErrWrongMasterKey},
		{"a garbled primary wrapped key is refused", func(m map[string]any) {
			m["keys"].([]any)[1].(map[string]any)["wrapped"] = "%%%"
		}, localkeys.ErrBadRing},
		{"an edited primary is detected", func(m map[string]any) { m["primary"] = 1 }, crypto.ErrMetadataMAC},
		{"an edited creation date is detected", func(m map[string]any) {
			m["keys"].([]any)[0].(map[string]any)["created"] = "2020-01-01T00:00:00Z"
		}, crypto.ErrMetadataMAC},
		{"a removed mac is refused", func(m map[string]any) { delete(m, "mac") }, localkeys.ErrBadRing},
		{"a downgrade to the unsigned v1 format does not unwrap", func(m map[string]any) {
			m["format"] = localkeys.FormatV1
			delete(m, "mac")
			delete(m, "lookup")
		}, localkeys.ErrWrongMasterKey},
		{"an added minimum version is detected", func(m map[string]any) { m["min_version"] = 1 }, crypto.ErrMetadataMAC},
		{"a removed lookup version is detected", func(m map[string]any) { delete(m, "lookup") }, crypto.ErrMetadataMAC},
		{"a moved lookup version is detected", func(m map[string]any) { m["lookup"] = 2 }, crypto.ErrMetadataMAC},
		{"a lookup version without a key is refused", func(m map[string]any) { m["lookup"] = 9 }, localkeys.ErrBadRing},
		{"a lookup version in a v1 ring is refused", func(m map[string]any) {
			m["format"] = localkeys.FormatV1
			delete(m, "mac")
		}, localkeys.ErrBadRing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ring.json")
			if _, err := localkeys.Init(path, mk); err != nil {
				t.Fatal(err)
			}
			if _, err := localkeys.Rotate(path, mk); err != nil {
				t.Fatal(err)
			}
			editRing(t, path, tc.edit)
			_, err := localkeys.New(path, mk).Load(context.Background(), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestProviderReloads(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ring.json")
	mk, _ := sidecartest.MasterKey(t)
	if _, err := localkeys.Init(path, mk); err != nil {
		t.Fatal(err)
	}
	p := localkeys.New(path, mk)
	r1, err := p.Load(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := localkeys.ReadStatus(path)
	if r1.Revision() != st.Revision || r1.Primary() != 1 {
		t.Fatalf("ring revision %q primary %d; status %+v", r1.Revision(), r1.Primary(), st)
	}
	aad := crypto.AAD(nil, "email", "")
	old, err := r1.Seal(nil, []byte("jane@example.com"), crypto.TypeString, crypto.ModeRandom, aad)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("an unchanged file is reported unchanged", func(t *testing.T) {
		if changed, err := p.Changed(ctx, r1); err != nil || changed {
			t.Fatalf("Changed = %v, %v", changed, err)
		}
	})
	t.Run("with no previous ring the file counts as changed", func(t *testing.T) {
		if changed, err := p.Changed(ctx, nil); err != nil || !changed {
			t.Fatalf("Changed = %v, %v", changed, err)
		}
	})
	if _, err := localkeys.Rotate(path, mk); err != nil {
		t.Fatal(err)
	}
	t.Run("a rotated file is reported changed", func(t *testing.T) {
		if changed, err := p.Changed(ctx, r1); err != nil || !changed {
			t.Fatalf("Changed = %v, %v", changed, err)
		}
	})
	r2, err := p.Load(ctx, r1)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("reload reuses the key already unwrapped and adds the new one", func(t *testing.T) {
		k1a, _ := r1.Key(1)
		k1b, _ := r2.Key(1)
		if k1a != k1b {
			t.Fatal("key v1 was unwrapped again instead of reused")
		}
		if r2.Primary() != 2 {
			t.Fatalf("primary = %d, want 2", r2.Primary())
		}
	})
	t.Run("a fresh provider builds the same keys", func(t *testing.T) {
		r, err := localkeys.New(path, mk).Load(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if pt, _, _, err := r.Open(nil, old, aad); err != nil || string(pt) != "jane@example.com" {
			t.Fatalf("Open = %q, %v", pt, err)
		}
	})
	t.Run("a new ring at the same path never reuses keys by id", func(t *testing.T) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if _, err := localkeys.Init(path, mk); err != nil {
			t.Fatal(err)
		}
		r3, err := p.Load(ctx, r2)
		if err != nil {
			t.Fatal(err)
		}
		k1b, _ := r2.Key(1)
		if k1c, _ := r3.Key(1); k1c == k1b {
			t.Fatal("key v1 of the old ring was reused for the new ring")
		}
		if _, _, _, err := r3.Open(nil, old, aad); !errors.Is(err, crypto.ErrTampered) {
			t.Fatalf("old value under the new ring: %v, want ErrTampered", err)
		}
	})
	t.Run("a missing file is an error for Changed and Load", func(t *testing.T) {
		gone := localkeys.New(filepath.Join(t.TempDir(), "absent.json"), mk)
		if _, err := gone.Changed(ctx, r1); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Changed error = %v", err)
		}
		if _, err := gone.Load(ctx, r1); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Load error = %v", err)
		}
	})
}
