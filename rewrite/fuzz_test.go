package rewrite

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// FuzzApply checks, for any document and any path list (newline separated):
// invalid JSON is refused; identity leaves the document unchanged; a
// replacing fn gives valid JSON equal to sequential sjson.SetRawBytes, and
// the same output in place (dst == doc[:0]) as into another buffer.
func FuzzApply(f *testing.F) {
	seeds := []struct{ doc, paths string }{
		{customer, "email\nphone\naddress.street\nname"},
		{customer1KB, "email\norders.#.id\nloyalty.card"},
		{`[{"email":"a"},{"email":"b","x":[1,2]}]`, "#.email"},
		{`{"data":[{"email":"a"},{"email":"b"}]}`, "data.#.email"},
		{`{"users":[{"contacts":[{"email":"a"},{"email":"b"}]},{"contacts":[]}]}`, "users.#.contacts.#.email"},
		{`{"a":{"b":{"c":[true,false,null]}}}`, "a.b.c\na.x"},
		{`{"a":[{"b":1},{"b":{"z":2}}]}`, "a.1.b\na.0"},
		{`{"email_home":"a","email_work":"b","e":{"x.y":1}}`, "email_*\ne.x\\.y"},
		{`{"k1":1,"k2":"\u00e9\"","k10":3.5e-2}`, "k?"},
		{` [ 1 , "x" , { } ] `, "#.a"},
		{`{"a":1,}`, "a"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.doc), s.paths)
	}
	f.Fuzz(func(t *testing.T, doc []byte, pathList string) {
		paths := strings.Split(pathList, "\n")
		p, err := Compile(paths)
		if err != nil {
			return
		}
		orig := bytes.Clone(doc)
		out, err := p.Apply(nil, doc, identity)
		if !bytes.Equal(doc, orig) {
			t.Fatal("Apply modified its input")
		}
		if errors.Is(err, ErrTooDeep) {
			return
		}
		if !gjson.ValidBytes(doc) || !utf8.Valid(doc) {
			if !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("invalid document accepted: %v", err)
			}
			return
		}
		if err != nil {
			if errors.Is(err, ErrOverlap) || errors.Is(err, ErrPatternTooComplex) {
				return
			}
			t.Fatalf("identity Apply: %v", err)
		}
		if !bytes.Equal(out, doc) {
			t.Fatalf("identity Apply changed %q into %q", doc, out)
		}
		got, err := p.Apply(nil, doc, wrapValue)
		if err != nil {
			t.Fatalf("replacing Apply: %v", err)
		}
		if !gjson.ValidBytes(got) {
			t.Fatalf("output is not valid JSON: %q", got)
		}
		// In place, with or without room to grow, the output is the same.
		for _, slack := range []int{0, len(got)} {
			buf := append(make([]byte, 0, len(doc)+slack), doc...)
			in, err := p.Apply(buf[:0], buf, wrapValue)
			if err != nil || !bytes.Equal(in, got) {
				t.Fatalf("in-place Apply (cap %d) = %q, %v; want %q", cap(buf), in, err, got)
			}
		}
		if hasDuplicateKeys(gjson.ParseBytes(doc)) {
			return // rewrite matches every copy of a key, gjson only the first
		}
		// gjson compares keys exactly; a plan folds case by default (as
		// members do), so the reference is held to a case-sensitive plan.
		exact, err := CompileSpec(Spec{Paths: paths, CaseSensitive: true})
		if err != nil {
			t.Fatalf("compile case-sensitive: %v", err)
		}
		if got, err = exact.Apply(nil, doc, wrapValue); err != nil {
			if errors.Is(err, ErrOverlap) || errors.Is(err, ErrPatternTooComplex) {
				return
			}
			t.Fatalf("case-sensitive Apply: %v", err)
		}
		want, ok := referenceApply(doc, paths, wrapRef)
		if ok && !bytes.Equal(got, want) {
			t.Fatalf("Apply(%q, %q) =\n%s\nsjson reference\n%s", doc, paths, got, want)
		}
	})
}
