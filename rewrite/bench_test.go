package rewrite

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/fieldseal/fieldseal/bench/workload"
)

// customer1KB is a realistic customer record of about 1 KB.
const customer1KB = `{
  "id": "c7d1e0a2-5f3b-4c1e-9a7d-2b8f6e4d3c21",
  "name": "Ada Lovelace",
  "email": "ada.lovelace@analytical-engines.example.com",
  "phone": "+44 20 7946 0958",
  "birthdate": "1815-12-10",
  "address": {
    "street": "12 St James's Square",
    "city": "London",
    "postcode": "SW1Y 4JH",
    "country": "GB"
  },
  "status": "active",
  "tier": "gold",
  "created_at": "2024-03-18T09:21:44Z",
  "updated_at": "2026-11-02T17:05:12Z",
  "marketing_opt_in": false,
  "preferences": {"language": "en-GB", "currency": "GBP", "newsletter": true, "channels": ["email", "sms"]},
  "orders": [
    {"id": 1001, "total": 129.95, "currency": "GBP", "placed_at": "2026-01-04T10:00:00Z", "items": 3},
    {"id": 1002, "total": 18.5, "currency": "GBP", "placed_at": "2026-02-11T14:30:00Z", "items": 1},
    {"id": 1003, "total": 342.0, "currency": "GBP", "placed_at": "2026-06-23T08:15:00Z", "items": 7}
  ],
  "loyalty": {"points": 4820, "since": "2019-05-01", "card": "gold-7731"},
  "notes": "Prefers contact by email in the morning; account reviewed in October.",
  "tags": ["vip", "early-adopter", "newsletter"],
  "source": "web-signup",
  "version": 14
}`

var benchPaths = []string{"email", "phone", "address.street", "name", "birthdate"}

// sealedLike is a ~60-byte JSON string, the size of a sealed short value.
const sealedLike = `"fs1:AQEAAAABAQ0xMjM0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo"`

func replaceSealed(out []byte, _ int, _ []byte) ([]byte, error) {
	return append(out, sealedLike...), nil
}

func BenchmarkApply1KB5Fields(b *testing.B) {
	benchApply(b, Spec{Paths: benchPaths}, []byte(customer1KB), replaceSealed)
}

func BenchmarkApply1KB5FieldsIdentity(b *testing.B) {
	benchApply(b, Spec{Paths: benchPaths}, []byte(customer1KB), identity)
}

func BenchmarkApplyNestedArrays(b *testing.B) {
	benchApply(b, Spec{Paths: []string{"orders.#.id", "loyalty.card", "email"}}, []byte(customer1KB), replaceSealed)
}

// benchApply measures Apply of the plan spec compiles to, with fn, on doc,
// reusing one output buffer.
func benchApply(b *testing.B, spec Spec, doc []byte, fn func(out []byte, i int, raw []byte) ([]byte, error)) {
	p, err := CompileSpec(spec)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 2*len(doc))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := p.Apply(dst[:0], doc, fn)
		if err != nil {
			b.Fatal(err)
		}
		dst = out
	}
}

// BenchmarkValidBytes1KB is the floor Apply cannot go below: validating the document.
func BenchmarkValidBytes1KB(b *testing.B) {
	benchValid(b, []byte(customer1KB))
}

// benchValid measures gjson's validator alone on doc.
func benchValid(b *testing.B, doc []byte) {
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if !gjson.ValidBytes(doc) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkSjsonBaseline is the naive approach Apply replaces: one gjson
// lookup and one sjson copy of the document per field.
func BenchmarkSjsonBaseline(b *testing.B) {
	doc := []byte(customer1KB)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		out := doc
		for _, path := range benchPaths {
			if !gjson.GetBytes(out, path).Exists() {
				continue
			}
			var err error
			out, err = sjson.SetRawBytes(out, path, []byte(sealedLike))
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// largeSpec is what a route protecting the 1 MB document compiles to: its
// five paths, the sealed prefix looked for everywhere.
var largeSpec = Spec{Paths: []string{"email", "phone", "address.street", "birth_date", "iban"}, Prefix: "fs1:"}

// BenchmarkApply1MB is Apply on the 1 MB document loadbench posts (few
// protected values in a lot of JSON that must still be validated and
// scanned): its throughput is what the proxy's per-byte cost is made of.
func BenchmarkApply1MB(b *testing.B) {
	benchApply(b, largeSpec, workload.Large(), replaceSealed)
}

// BenchmarkValidBytes1MB is gjson's validator alone on the same document.
func BenchmarkValidBytes1MB(b *testing.B) {
	benchValid(b, workload.Large())
}

// BenchmarkApplyUTF8Text is Apply on 64 KB of records whose names and
// notes are mostly not ASCII (Hangul, accented Latin): the cost of
// checking UTF-8 where it is not free.
func BenchmarkApplyUTF8Text(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"email":"a@example.com","records":[`)
	for i := 0; sb.Len() < 64<<10; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"이름":"김민준 홍길동","note":"Zoë’s café – naïve résumé, 서울특별시 강남구 테헤란로 ` + strings.Repeat("가", i%7) + `","n":12}`)
	}
	sb.WriteString(`]}`)
	benchApply(b, largeSpec, []byte(sb.String()), replaceSealed)
}
