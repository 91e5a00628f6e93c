package rewrite

import (
	"bytes"
	"errors"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// sizedBy replaces each matched value with a string whose length depends on
// the match's position, so one document gets values that grow and values
// that shrink.
func sizedBy(lengths []int) func(out []byte, i int, raw []byte) ([]byte, error) {
	k := 0
	return func(out []byte, _ int, _ []byte) ([]byte, error) {
		n := lengths[k%len(lengths)]
		k++
		out = append(out, '"')
		for j := range n {
			out = append(out, byte('a'+j%26))
		}
		return append(out, '"'), nil
	}
}

func TestApplyInPlace(t *testing.T) {
	p, err := CompileSpec(Spec{Paths: []string{"email", "address.street", "orders.#.id"}, Members: []string{"phone"}, Prefix: "fs1:"})
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(customer1KB)
	tests := []struct {
		name    string
		lengths []int
		slack   int // capacity beyond the document
	}{
		{"values that all shrink", []int{0, 1}, 0},
		{"values that all grow, with room", []int{80, 120}, 2048},
		{"values that all grow, without room", []int{80, 120}, 0},
		{"values that grow and shrink, with room", []int{0, 90, 1, 200, 3}, 1024},
		{"values that grow and shrink, without room", []int{0, 90, 1, 200, 3}, 0},
		{"values of the same length as before", []int{5}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name+" come out as a copying Apply writes them", func(t *testing.T) {
			want, err := p.Apply(nil, doc, sizedBy(tt.lengths))
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len(doc), len(doc)+tt.slack)
			copy(buf, doc)
			got, err := p.Apply(buf[:0], buf, sizedBy(tt.lengths))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("in place:\n%s\nwant\n%s", got, want)
			}
			fits := len(want) <= cap(buf)
			start := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
			at := uintptr(unsafe.Pointer(unsafe.SliceData(got)))
			if same := at >= start && at+uintptr(len(got)) <= start+uintptr(cap(buf)); same != fits {
				t.Errorf("result in the document's own buffer: %v, want %v (len %d, cap %d)", same, fits, len(want), cap(buf))
			}
		})
	}
	t.Run("a shorter result of values near the start ends where the document ends", func(t *testing.T) {
		big := []byte(`{"email":"` + strings.Repeat("e", 200) + `","rest":"` + strings.Repeat("r", 5000) + `"}`)
		want, err := p.Apply(nil, big, sizedBy([]int{3}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Apply(big[:0], big, sizedBy([]int{3}))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("err %v, output differs", err)
		}
		if &got[len(got)-1] != &big[len(big)-1] {
			t.Error("the tail of the document was moved")
		}
	})
	t.Run("an error from fn leaves the document untouched", func(t *testing.T) {
		buf := bytes.Clone(doc)
		calls := 0
		_, err := p.Apply(buf[:0], buf, func(out []byte, _ int, _ []byte) ([]byte, error) {
			if calls++; calls == 3 {
				return out, errors.New("refused")
			}
			return append(out, `""`...), nil
		})
		if err == nil || !bytes.Equal(buf, doc) {
			t.Fatalf("err %v; document changed: %v", err, !bytes.Equal(buf, doc))
		}
	})
	t.Run("random growth and shrinkage", func(t *testing.T) {
		r := rand.New(rand.NewSource(14))
		for n := range 500 {
			lengths := make([]int, 1+r.Intn(6))
			for j := range lengths {
				lengths[j] = r.Intn(150)
			}
			want, err := p.Apply(nil, doc, sizedBy(lengths))
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len(doc), len(doc)+r.Intn(400))
			copy(buf, doc)
			got, err := p.Apply(buf[:0], buf, sizedBy(lengths))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round %s, lengths %v, cap %d: err %v, output differs", strconv.Itoa(n), lengths, cap(buf), err)
			}
		}
	})
}
