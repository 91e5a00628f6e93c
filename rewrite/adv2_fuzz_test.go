package rewrite

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzValidLikeEncodingJSON (round 3, adversary 2): the one-pass scanner
// accepts exactly the documents encoding/json accepts, so no document is
// sealed under one reading and stored under another. encoding/json reads
// invalid UTF-8 as U+FFFD where the scanner refuses it (RFC 8259 section
// 8.1; lenient parsers decode overlong forms), so only UTF-8 documents
// count as valid here.
func FuzzValidLikeEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"email":"a"}`, `[1,-0.5e+3,true,null,"x\u00e9"]`, ` {"a" : [ ] } `, `{"a":01}`, `[1.]`, "\"\x7f\"", `{"a":"\ud800"}`, `-`, `[-0]`, "{\"a\":1}\x00"} {
		f.Add([]byte(s))
	}
	p, err := CompileSpec(Spec{Members: []string{"email"}, Paths: []string{"a.#.b", "c"}, Prefix: "fs1:"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, err := p.Apply(nil, doc, func(out []byte, _ int, raw []byte) ([]byte, error) { return append(out, raw...), nil })
		if errors.Is(err, ErrTooDeep) || errors.Is(err, ErrShapeMismatch) || errors.Is(err, ErrOverlap) {
			return
		}
		ours, theirs := err == nil, json.Valid(doc) && utf8.Valid(doc)
		if ours != theirs {
			t.Fatalf("scanner valid=%v (%v), encoding/json valid=%v: %q", ours, err, theirs, doc)
		}
	})
}
