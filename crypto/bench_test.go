package crypto_test

import (
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
)

// email is a typical 20-byte field value.
var email = []byte("jane.doe@example.com")

func benchSeal(b *testing.B, mode crypto.Mode) {
	ring := testRing(b, "bench", 1)
	aad := crypto.AAD(nil, "email", "")
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(email)))
	for b.Loop() {
		var err error
		if dst, err = ring.Seal(dst[:0], email, crypto.TypeString, mode, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func benchOpen(b *testing.B, mode crypto.Mode) {
	ring := testRing(b, "bench", 1)
	aad := crypto.AAD(nil, "email", "")
	sealed, err := ring.Seal(nil, email, crypto.TypeString, mode, aad)
	if err != nil {
		b.Fatal(err)
	}
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(email)))
	for b.Loop() {
		if dst, _, _, err = ring.Open(dst[:0], sealed, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealRandom(b *testing.B)        { benchSeal(b, crypto.ModeRandom) }
func BenchmarkOpenRandom(b *testing.B)        { benchOpen(b, crypto.ModeRandom) }
func BenchmarkSealDeterministic(b *testing.B) { benchSeal(b, crypto.ModeDeterministic) }
func BenchmarkOpenDeterministic(b *testing.B) { benchOpen(b, crypto.ModeDeterministic) }
