package crypto_test

import (
	"crypto/rand"
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
)

// email is a typical 20-byte field value.
var email = []byte("jane.doe@example.com")

func benchSeal(b *testing.B, mode crypto.Mode) {
	benchSealWith(b, testRing(b, "bench", 1), mode)
}

func benchSealWith(b *testing.B, ring *crypto.Keyring, mode crypto.Mode) {
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
	benchOpenWith(b, testRing(b, "bench", 1), mode)
}

func benchOpenWith(b *testing.B, ring *crypto.Keyring, mode crypto.Mode) {
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

func BenchmarkSealRandom(b *testing.B) { benchSeal(b, crypto.ModeRandom) }
func BenchmarkOpenRandom(b *testing.B) { benchOpen(b, crypto.ModeRandom) }

// BenchmarkSealRandomAESGCM seals random mode as earlier releases did
// (alg 1, AES-256-GCM, one cipher per data key, a random 96-bit nonce from
// crypto/rand), beside BenchmarkSealRandom's XAES-256-GCM (alg 3), which
// derives a key and builds a cipher per value. It shows what the per-value
// key derivation costs; alg 1 is not sealed any more because a fleet of
// sidecars sharing a data key would pass AES-GCM's 2^32 random-nonce
// limit per key (NIST SP 800-38D, 8.3).
func BenchmarkSealRandomAESGCM(b *testing.B) {
	benchSealWith(b, crypto.WithNonces(testRing(b, "bench", 1), rand.Reader), crypto.ModeRandom)
}

// BenchmarkOpenRandomAESGCM opens an alg 1 value (see
// BenchmarkSealRandomAESGCM).
func BenchmarkOpenRandomAESGCM(b *testing.B) {
	benchOpenWith(b, crypto.WithNonces(testRing(b, "bench", 1), rand.Reader), crypto.ModeRandom)
}

func BenchmarkSealDeterministic(b *testing.B) { benchSeal(b, crypto.ModeDeterministic) }
func BenchmarkOpenDeterministic(b *testing.B) { benchOpen(b, crypto.ModeDeterministic) }
