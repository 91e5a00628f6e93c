package crypto_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
)

// testKey returns a data key whose material is fixed per (seed, id), so
// tests can build two rings holding the same or different keys.
func testKey(t testing.TB, seed string, id uint32) *crypto.DataKey {
	t.Helper()
	m := sha256.Sum256(fmt.Appendf(nil, "%s/%d", seed, id))
	k, err := crypto.NewDataKey(id, m[:], time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testRing returns a ring of the given ids under seed; the last id is primary.
func testRing(t testing.TB, seed string, ids ...uint32) *crypto.Keyring {
	t.Helper()
	var keys []*crypto.DataKey
	for _, id := range ids {
		keys = append(keys, testKey(t, seed, id))
	}
	r, err := crypto.NewKeyring(keys, ids[len(ids)-1], "test-"+seed)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// encodingRaw decodes the payload of a sealed value.
func encodingRaw(sealed []byte) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(string(sealed[len(crypto.Prefix):]))
}
