package crypto_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
)

// metaKey is a fixed MAC key for the metadata vectors below.
var metaKey = func() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}()

func testMetadata() crypto.RingMetadata {
	return crypto.RingMetadata{Format: "fieldseal-local-ring/v2", RingID: "ring-A", Primary: 4, MinVersion: 1,
		Retired: []uint32{2}, Destroyed: []uint32{3},
		Keys: []crypto.KeyMeta{{ID: 4, Created: "2026-04-01T00:00:00Z"}, {ID: 1, Created: "2026-01-01T00:00:00Z"}, {ID: 2, Created: "2026-02-01T00:00:00Z"}}}
}

// The MAC vectors were computed by an independent implementation of the
// encodings in FORMAT.md ("Ring metadata MAC encoding"), in Python.
func TestRingMetadataMACVectors(t *testing.T) {
	aws := testMetadata()
	aws.Format, aws.CMK, aws.Lookup = "fieldseal.aws-ring/v2", "alias/pii", 1
	withLookup := testMetadata()
	withLookup.Lookup = 1
	for _, tc := range []struct {
		name string
		m    crypto.RingMetadata
		mac  string
	}{
		{"a ring without a lookup version keeps the v1 encoding it was signed with", testMetadata(), "a63eb08bffd8d5fa53d3f96d21f0b84904c96d05f86d824bceeaf892257fc8cc"},
		{"a local ring with a lookup version uses the v2 encoding", withLookup, "0f315c7aa38f46314049ac39f013450256d4c604fc32ec2d5e8e2844137550fa"},
		{"an aws ring with a lookup version encodes its cmk before the lookup version", aws, "0bc1e59ce13233e96ee9a9aefe2e054ba3969d67c441e957739c6c5ea8b135ed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := hex.DecodeString(tc.mac)
			if got := tc.m.MAC(metaKey); !bytes.Equal(got, want) {
				t.Fatalf("MAC = %x, want %s", got, tc.mac)
			}
			if err := tc.m.Verify(metaKey, want); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestRingMetadataLookupIsAuthenticated(t *testing.T) {
	signed := testMetadata()
	signed.Lookup = 2
	mac := signed.MAC(metaKey)
	for _, tc := range []struct {
		name   string
		lookup uint32
	}{
		{"removing the lookup version fails", 0},
		{"moving the lookup version fails", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edited := signed
			edited.Lookup = tc.lookup
			if err := edited.Verify(metaKey, mac); !errors.Is(err, crypto.ErrMetadataMAC) {
				t.Fatalf("Verify = %v, want ErrMetadataMAC", err)
			}
		})
	}
	t.Run("the lookup version reaches the lifecycle", func(t *testing.T) {
		if got := signed.Lifecycle().Lookup; got != 2 {
			t.Fatalf("Lifecycle().Lookup = %d, want 2", got)
		}
	})
}

func TestCheckLookup(t *testing.T) {
	present := map[uint32]bool{1: true, 2: true, 3: true}
	for _, tc := range []struct {
		name    string
		lookup  uint32
		min     uint32
		retired []uint32
		ok      bool
	}{
		{"no lookup version means the primary", 0, 0, nil, true},
		{"a present version is accepted", 2, 1, nil, true},
		{"a version without a key is refused", 5, 0, nil, false},
		{"a retired version is refused", 2, 0, []uint32{2}, false},
		{"a version below the minimum is refused", 1, 2, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := crypto.CheckLookup(tc.lookup, tc.min, tc.retired, present)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckLookup = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// lookupRing is a ring of versions 1..primary under seed whose lookup
// version is lookup (0: none named).
func lookupRing(t *testing.T, primary, lookup uint32, retired ...uint32) *crypto.Keyring {
	t.Helper()
	var keys []*crypto.DataKey
	for id := uint32(1); id <= primary; id++ {
		keys = append(keys, testKey(t, "lookup", id))
	}
	r, err := crypto.NewKeyringLifecycle(keys, primary, "test", crypto.Lifecycle{Lookup: lookup, Retired: retired})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sealWith(t *testing.T, r *crypto.Keyring, mode crypto.Mode, pt string) []byte {
	t.Helper()
	out, err := r.Seal(nil, []byte(pt), crypto.TypeString, mode, crypto.AAD(nil, "email", "t1"))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keyOf(t *testing.T, r *crypto.Keyring, sealed []byte) uint32 {
	t.Helper()
	pt, _, id, err := r.Open(nil, sealed, crypto.AAD(nil, "email", "t1"))
	if err != nil || string(pt) != "jane@example.com" {
		t.Fatalf("open: %q %v", pt, err)
	}
	return id
}

func TestDeterministicSealsUseTheLookupVersion(t *testing.T) {
	const pt = "jane@example.com"
	never := lookupRing(t, 1, 0)
	before := sealWith(t, never, crypto.ModeDeterministic, pt)

	t.Run("a ring that names no lookup version seals under its primary", func(t *testing.T) {
		if never.Lookup() != 1 || keyOf(t, never, before) != 1 {
			t.Fatalf("Lookup() = %d, value under v%d", never.Lookup(), keyOf(t, never, before))
		}
	})
	rotated := lookupRing(t, 3, 1)
	t.Run("after routine rotations the same plaintext seals to the same value", func(t *testing.T) {
		if got := sealWith(t, rotated, crypto.ModeDeterministic, pt); !bytes.Equal(got, before) {
			t.Fatalf("deterministic value changed with the primary: %s, want %s", got, before)
		}
	})
	t.Run("random seals still use the primary", func(t *testing.T) {
		if id := keyOf(t, rotated, sealWith(t, rotated, crypto.ModeRandom, pt)); id != 3 {
			t.Fatalf("random value under v%d, want v3", id)
		}
		if rotated.SealingKey(crypto.ModeRandom) != 3 || rotated.SealingKey(crypto.ModeDeterministic) != 1 {
			t.Fatalf("SealingKey = %d/%d, want 3/1", rotated.SealingKey(crypto.ModeRandom), rotated.SealingKey(crypto.ModeDeterministic))
		}
	})
	t.Run("versions report which one is the lookup version", func(t *testing.T) {
		for _, v := range rotated.Versions() {
			if v.Lookup != (v.ID == 1) {
				t.Fatalf("version %+v", v)
			}
		}
	})
	moved := lookupRing(t, 4, 4)
	t.Run("an explicit lookup rotation changes the value", func(t *testing.T) {
		got := sealWith(t, moved, crypto.ModeDeterministic, pt)
		if bytes.Equal(got, before) || keyOf(t, moved, got) != 4 {
			t.Fatalf("value after the lookup moved to v4: %s (under v%d)", got, keyOf(t, moved, got))
		}
		if keyOf(t, moved, before) != 1 {
			t.Fatal("the old value no longer opens")
		}
	})
	t.Run("the other openable versions are listed newest first", func(t *testing.T) {
		if got := moved.LookupVersions(); !slices.Equal(got, []uint32{3, 2, 1}) {
			t.Fatalf("LookupVersions = %v", got)
		}
	})
	t.Run("a lookup ring for an earlier version gives the value stored before", func(t *testing.T) {
		old, err := moved.ForLookup(1)
		if err != nil {
			t.Fatal(err)
		}
		seals := moved.SealCount(1)
		if got := sealWith(t, old, crypto.ModeDeterministic, pt); !bytes.Equal(got, before) {
			t.Fatalf("ForLookup(1) value %s, want %s", got, before)
		}
		if moved.SealCount(1) != seals {
			t.Fatal("a search term was counted as a seal")
		}
		if id := keyOf(t, old, sealWith(t, old, crypto.ModeRandom, pt)); id != 4 {
			t.Fatalf("random seal of a lookup ring under v%d, want the primary v4", id)
		}
	})
	t.Run("a lookup ring needs a version that opens", func(t *testing.T) {
		if _, err := moved.ForLookup(9); !errors.Is(err, crypto.ErrUnknownKey) {
			t.Fatalf("ForLookup(9) = %v, want ErrUnknownKey", err)
		}
	})
}

func TestNewKeyringRefusesABadLookupVersion(t *testing.T) {
	keys := []*crypto.DataKey{testKey(t, "lookup", 1), testKey(t, "lookup", 2)}
	for _, tc := range []struct {
		name string
		lc   crypto.Lifecycle
	}{
		{"a lookup version without a key", crypto.Lifecycle{Lookup: 3}},
		{"a retired lookup version", crypto.Lifecycle{Lookup: 1, Retired: []uint32{1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := crypto.NewKeyringLifecycle(keys, 2, "test", tc.lc); !errors.Is(err, crypto.ErrNoKey) {
				t.Fatalf("NewKeyringLifecycle = %v, want ErrNoKey", err)
			}
		})
	}
}
