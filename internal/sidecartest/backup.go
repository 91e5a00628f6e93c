package sidecartest

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

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
