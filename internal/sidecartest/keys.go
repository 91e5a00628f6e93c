package sidecartest

import (
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
)

// MasterKey is a new local master key and its text (as a master key file
// holds it), for tests that write rings of their own.
func MasterKey(t testing.TB) (localkeys.MasterKey, string) {
	t.Helper()
	text, err := localkeys.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	mk, err := localkeys.ParseMasterKey(text)
	if err != nil {
		t.Fatalf("generated master key refused: %v", err)
	}
	return mk, text
}

// LookupProbe is the deterministic value of "jane@example.com" in class
// email (no context) under kr's lookup key: the value the providers' lookup
// tests store and must compute again after rotations. The rings under
// crypto/localkeys/testdata/before-lookup hold it as value.txt.
func LookupProbe(t testing.TB, kr *crypto.Keyring) []byte {
	t.Helper()
	v, err := kr.Seal(nil, []byte("jane@example.com"), crypto.TypeString, crypto.ModeDeterministic, crypto.AAD(nil, "email", ""))
	if err != nil {
		t.Fatalf("seal the lookup probe: %v", err)
	}
	return v
}
