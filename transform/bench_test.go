package transform

import (
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

func benchSide(b *testing.B) *fieldmap.Side {
	s := testSide(b, "POST", "/bench")
	if len(s.Fields) != 5 {
		b.Fatal("bench route missing from the test config")
	}
	return s
}

// BenchmarkTransform1KB5Fields measures one document through each direction
// as the proxy runs it per request: policy lookup (Reset), then
// rewrite.Apply's one pass (validation included) with a seal or open per
// field, into a reused buffer (the proxy's is pooled).
func BenchmarkTransform1KB5Fields(b *testing.B) {
	ring := sidecartest.Ring(b, 2)
	side := benchSide(b)
	var st Stats
	sealed, err := New(Params{Ring: ring, Side: side}).Seal(nil, sidecartest.BenchDoc)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2*len(sealed))
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(sidecartest.BenchDoc)))
		for b.Loop() {
			st.Fields, st.KeyIDs = st.Fields[:0], st.KeyIDs[:0]
			var t Transform // embedded in the request state in the proxy
			t.Reset(Params{Ring: ring, Side: side, Stats: &st})
			out, err := t.Seal(buf[:0], sidecartest.BenchDoc)
			if err != nil {
				b.Fatal(err)
			}
			buf = out
		}
	})
	// The rewrite pass alone (validation and walk, values copied unchanged):
	// what seal and open cost beyond it is crypto and the proxy's own work.
	// The sealed document is larger (base64 values), so opening walks more.
	identity := func(out []byte, _ int, raw []byte) ([]byte, error) { return append(out, raw...), nil }
	for _, doc := range []struct {
		name string
		doc  []byte
	}{{"rewrite-only-plain", sidecartest.BenchDoc}, {"rewrite-only-sealed", sealed}} {
		b.Run(doc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc.doc)))
			for b.Loop() {
				var err error
				if buf, err = side.Plan.Apply(buf[:0], doc.doc, identity); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(sealed)))
		for b.Loop() {
			st.Fields, st.KeyIDs = st.Fields[:0], st.KeyIDs[:0]
			var t Transform
			t.Reset(Params{Ring: ring, Side: side, Stats: &st})
			out, err := t.Open(buf[:0], sealed)
			if err != nil {
				b.Fatal(err)
			}
			buf = out
		}
	})
}

// BenchmarkAES5Fields is the crypto share of BenchmarkTransform1KB5Fields:
// the same five values with the same modes (four random, ssn deterministic)
// sealed and opened with nothing around them.
func BenchmarkAES5Fields(b *testing.B) {
	ring := sidecartest.Ring(b, 2)
	values := [][]byte{[]byte("ada.lovelace@example.com"), []byte("+44 20 7946 0958"), []byte("12 Analytical Engine Way"), []byte("NW1 6XE"), []byte("123-45-6789")}
	modes := []crypto.Mode{crypto.ModeRandom, crypto.ModeRandom, crypto.ModeRandom, crypto.ModeRandom, crypto.ModeDeterministic}
	aad := crypto.AAD(nil, "email", "")
	var sealed [][]byte
	for i, v := range values {
		s, err := ring.Seal(nil, v, crypto.TypeString, modes[i], aad)
		if err != nil {
			b.Fatal(err)
		}
		sealed = append(sealed, s)
	}
	buf := make([]byte, 0, 256)
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i, v := range values {
				buf, _ = ring.Seal(buf[:0], v, crypto.TypeString, modes[i], aad)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range sealed {
				buf, _, _, _ = ring.Open(buf[:0], s, aad)
			}
		}
	})
}
