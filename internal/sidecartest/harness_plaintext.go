package sidecartest

import (
	"bytes"
	"testing"
)

// NoPlaintext fails the test once for every body that holds one of the
// plaintexts byte for byte: for an upstream of a test's own that records
// the bodies it received, none of which may carry a value fieldseal was to
// seal. (Store.MustNotHold is the same check for a Store, which also reads
// paths and decoded strings.)
func NoPlaintext(t testing.TB, bodies [][]byte, plaintexts ...string) {
	t.Helper()
	for _, b := range bodies {
		for _, p := range plaintexts {
			if bytes.Contains(b, []byte(p)) {
				t.Errorf("the upstream received plaintext %q: %.300q", p, b)
			}
		}
	}
}
