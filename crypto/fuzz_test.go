package crypto_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
)

// FuzzOpen checks that Open never panics, never appends to dst on error,
// reports every failure in one of the categories, and succeeds only on
// exactly a value this test sealed, giving back its plaintext and type.
func FuzzOpen(f *testing.F) {
	ring := testRing(f, "fuzz", 1, 2)
	// Fuzz workers are separate processes that each run this setup, so
	// random-mode seeds must come out the same in every one of them.
	nonces := make([]byte, 12*64)
	for i := range nonces {
		nonces[i] = byte(i * 7)
	}
	sealer := crypto.WithNonces(ring, bytes.NewReader(nonces))
	aad := crypto.AAD(nil, "email", "tenant-1")
	type sealed struct {
		pt  string
		typ crypto.JSONType
	}
	valid := map[string]sealed{}
	inputs := []sealed{
		{"jane.doe@example.com", crypto.TypeString},
		{"", crypto.TypeString},
		{"42", crypto.TypeNumber},
		{"true", crypto.TypeBool},
		{"null", crypto.TypeNull},
		{`{"a":[1,2]}`, crypto.TypeObject},
		{`[]`, crypto.TypeArray},
	}
	for _, in := range inputs {
		for _, mode := range []crypto.Mode{crypto.ModeRandom, crypto.ModeDeterministic} {
			s, err := sealer.Seal(nil, []byte(in.pt), in.typ, mode, aad)
			if err != nil {
				f.Fatal(err)
			}
			valid[string(s)] = in
			f.Add(s)
		}
	}
	f.Add([]byte(crypto.Prefix))
	f.Add([]byte("fs1:AQEAAAAB"))
	f.Add([]byte("jane.doe@example.com"))
	f.Add([]byte("fs1:\n"))

	f.Fuzz(func(t *testing.T, in []byte) {
		dst := []byte("dst")
		out, typ, _, err := ring.Open(dst, in, aad)
		if err != nil {
			if !bytes.Equal(out, dst) {
				t.Fatalf("Open failed (%v) but appended %q", err, out[len(dst):])
			}
			if !errors.Is(err, crypto.ErrMalformed) && !errors.Is(err, crypto.ErrUnknownKey) && !errors.Is(err, crypto.ErrTampered) {
				t.Fatalf("error of no category: %v", err)
			}
			return
		}
		want, ok := valid[string(in)]
		if !ok {
			t.Fatalf("Open accepted %q, which this test never sealed, giving %q", in, out)
		}
		if string(out[len(dst):]) != want.pt || typ != want.typ || !bytes.HasPrefix(out, dst) {
			t.Fatalf("Open(%q) = %q %v, want %q %v", in, out, typ, want.pt, want.typ)
		}
	})
}
