package sidecartest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// RefusesDamagedBackups runs a subtest for each of DamagedBackups(backup,
// otherProvider): the damaged copy is written to a file, and read and
// restore (a provider's ReadBackup and RestoreBackup on that file, into a
// new place) must each fail with an error that is bad (errors.Is).
func RefusesDamagedBackups(t *testing.T, backup []byte, otherProvider string, bad error, read, restore func(t *testing.T, file string) error) {
	t.Helper()
	for name, damaged := range DamagedBackups(t, backup, otherProvider) {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "backup.json")
			if err := os.WriteFile(file, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := read(t, file); !errors.Is(err, bad) {
				t.Errorf("read: %v, want %v", err, bad)
			}
			if err := restore(t, file); !errors.Is(err, bad) {
				t.Errorf("restore: %v, want %v", err, bad)
			}
		})
	}
}

// DamagedBackups returns copies of backup, a key ring backup file as a
// provider wrote it, each damaged one way that reading it must refuse
// with the provider's ErrBadBackup, by name: another format, another
// provider (the other provider's name), a changed digest, a changed ring
// (one byte of its bytes flipped, so the digest no longer matches), a member
// the format lacks, and a file that is not JSON. Both providers' tests run
// the same table.
func DamagedBackups(t testing.TB, backup []byte, otherProvider string) map[string][]byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(backup, &doc); err != nil {
		t.Fatalf("decode backup: %v", err)
	}
	ring, err := base64.StdEncoding.DecodeString(doc["ring"].(string))
	if err != nil || len(ring) == 0 {
		t.Fatalf("decode backup ring: %v", err)
	}
	ring[len(ring)/2] ^= 0x01
	with := func(member string, v any) []byte {
		d := maps.Clone(doc)
		d[member] = v
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	sum := []byte(doc["sha256"].(string))
	slices.Reverse(sum)
	return map[string][]byte{
		"format":         with("format", "fieldseal-key-backup/v0"),
		"provider":       with("provider", otherProvider),
		"digest":         with("sha256", string(sum)),
		"ring":           with("ring", base64.StdEncoding.EncodeToString(ring)),
		"unknown member": with("comment", "restored by hand"),
		"not json":       backup[:len(backup)/2],
	}
}
