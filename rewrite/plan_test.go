package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const customer = `{
  "id": 17,
  "name": "Ada Lovelace",
  "email": "ada@example.com",
  "phone": "+44 20 7946 0000",
  "vip": true,
  "notes": null,
  "address": {"street": "12 St James's Square", "city": "London", "zip": "SW1Y 4JH"},
  "tags": ["math", "engines"],
  "x.y": "dotted",
  "@type": "Person"
}`

// mark replaces every value with "<i>" so outputs are easy to read.
func mark(out []byte, i int, _ []byte) ([]byte, error) {
	return fmt.Appendf(out, `"<%d>"`, i), nil
}

func TestApplyPathForms(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		paths []string
		want  string
	}{
		{"a top-level key is replaced", `{"a":1,"b":2}`, []string{"b"}, `{"a":1,"b":"<0>"}`},
		{"a nested key is replaced", `{"a":{"b":{"c":"x"}},"c":1}`, []string{"a.b.c"}, `{"a":{"b":{"c":"<0>"}},"c":1}`},
		{"an array index selects one element", `{"a":[{"b":1},{"b":2}]}`, []string{"a.1.b"}, `{"a":[{"b":1},{"b":"<0>"}]}`},
		{"a numeric key selects an object member", `{"a":{"0":{"b":1}}}`, []string{"a.0.b"}, `{"a":{"0":{"b":"<0>"}}}`},
		{"hash on a top-level array selects every element's key", `[{"email":"a"},{"x":1},{"email":"b"}]`, []string{"#.email"}, `[{"email":"<0>"},{"x":1},{"email":"<0>"}]`},
		{"hash under a key selects every element's key", `{"data":[{"email":"a"},{"email":"b"}]}`, []string{"data.#.email"}, `{"data":[{"email":"<0>"},{"email":"<0>"}]}`},
		{"nested hashes reach every inner element", `{"users":[{"contacts":[{"email":"a"},{"email":"b"}]},{"contacts":[]},{"contacts":[{"email":"c"}]}]}`,
			[]string{"users.#.contacts.#.email"}, `{"users":[{"contacts":[{"email":"<0>"},{"email":"<0>"}]},{"contacts":[]},{"contacts":[{"email":"<0>"}]}]}`},
		{"hash replaces whole elements", `{"a":[1,"two",{"three":3}]}`, []string{"a.#.three"}, `{"a":[1,"two",{"three":"<0>"}]}`},
		{"a star wildcard matches every matching key", `{"email_home":"a","email_work":"b","name":"c"}`, []string{"email_*"}, `{"email_home":"<0>","email_work":"<0>","name":"c"}`},
		{"a question-mark wildcard matches one character", `{"k1":1,"k2":2,"k10":3}`, []string{"k?"}, `{"k1":"<0>","k2":"<0>","k10":3}`},
		{"a wildcard in the middle of a path descends", `{"a":{"x":{"e":1},"y":{"e":2,"f":3}}}`, []string{"a.*.e"}, `{"a":{"x":{"e":"<0>"},"y":{"e":"<0>","f":3}}}`},
		{"an escaped dot is part of the key", `{"x.y":1,"x":{"y":2}}`, []string{`x\.y`}, `{"x.y":"<0>","x":{"y":2}}`},
		{"an escaped at-sign names a key", `{"@type":"P"}`, []string{`\@type`}, `{"@type":"<0>"}`},
		{"escaped brackets name a key that holds them", `{"a[0]":1,"a":[2]}`, []string{`a\[0\]`}, `{"a[0]":"<0>","a":[2]}`},
		{"an escaped star is literal", `{"*":1,"a":2}`, []string{`\*`}, `{"*":"<0>","a":2}`},
		{"strings numbers booleans and null are replaced whole", `{"s":"x","n":-1.5e3,"t":true,"f":false,"z":null}`,
			[]string{"s", "n", "t", "f", "z"}, `{"s":"<0>","n":"<1>","t":"<2>","f":"<3>","z":"<4>"}`},
		{"objects and arrays are replaced whole", `{"o":{"a":[1,{"b":2}]},"l":[[1],[2]]}`, []string{"o", "l"}, `{"o":"<0>","l":"<1>"}`},
		{"missing paths match nothing", `{"a":{"b":1}}`, []string{"a.c", "x.y.z", "a.b.c", "#.a", "a.#.b"}, `{"a":{"b":1}}`},
		{"a key on a scalar matches nothing", `{"a":"str","b":[1]}`, []string{"a.b", "b.x"}, `{"a":"str","b":[1]}`},
		{"whitespace and key order are kept byte for byte", " {\n \"b\" : 1 ,\t\"a\" :\"x\" } \n", []string{"a"}, " {\n \"b\" : 1 ,\t\"a\" :\"<0>\" } \n"},
		{"a scalar document has no keys to match", `"just a string"`, []string{"a"}, `"just a string"`},
		{"every copy of a repeated key is replaced", `{"email":"a","email":"b"}`, []string{"email"}, `{"email":"<0>","email":"<0>"}`},
		{"escaped keys in the document match unescaped paths", `{"em\u0061il":"a"}`, []string{"email"}, `{"em\u0061il":"<0>"}`},
		{"several paths are replaced in document order", customer, []string{"email", "phone", "address.street", "name"}, strings.NewReplacer(
			`"Ada Lovelace"`, `"<3>"`, `"ada@example.com"`, `"<0>"`, `"+44 20 7946 0000"`, `"<1>"`, `"12 St James's Square"`, `"<2>"`).Replace(customer)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.paths)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.Apply(nil, []byte(tt.doc), mark)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Apply =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestApplyVisitsMatchesInDocumentOrder(t *testing.T) {
	p, err := Compile([]string{"b", "a", "c"})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	_, err = p.Apply(nil, []byte(`{"c":3,"a":1,"b":2}`), func(out []byte, i int, raw []byte) ([]byte, error) {
		seen = append(seen, fmt.Sprintf("%d=%s", i, raw))
		return append(out, raw...), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(seen, " "), "2=3 1=1 0=2"; got != want {
		t.Errorf("visit order %q, want %q", got, want)
	}
}

func TestCompileRejects(t *testing.T) {
	tests := []struct {
		name   string
		paths  []string
		reason string // substring of the error
		index  int
	}{
		{"an empty path", []string{""}, "empty", 0},
		{"a query", []string{"a.#(b==1).c"}, "queries", 0},
		{"a query at the root", []string{"#(b==1)"}, "queries", 0},
		{"a modifier at the root", []string{"@reverse"}, "modifiers", 0},
		{"a modifier inside a path", []string{"a.@reverse"}, "modifiers", 0},
		{"a pipe", []string{"a|b"}, "pipes", 0},
		{"a multipath", []string{"[a,b]"}, "multipaths", 0},
		{"an object multipath", []string{"{a,b}"}, "multipaths", 0},
		{"a literal", []string{"!true"}, "literals", 0},
		{"two dots in a row", []string{"a..b"}, "empty component", 0},
		{"a JSON-lines path", []string{"..0"}, "empty component", 0},
		{"a trailing dot", []string{"a."}, "empty component", 0},
		{"a trailing hash", []string{"a.#"}, "array length", 0},
		{"a hash inside a key", []string{"a#b"}, "whole component", 0},
		{"a trailing backslash", []string{`a\`}, "backslash", 0},
		{"an unclosed bracket after a hash", []string{"#.email[["}, "literal in gjson", 0},
		{"an index written as in JavaScript", []string{"items[0].email"}, "items.0.email", 0},
		{"a closing bracket", []string{"a.b]"}, "literal in gjson", 0},
		{"a brace inside a key", []string{"a{b}"}, "literal in gjson", 0},
		{"a query without its hash", []string{"a.(b==1)"}, "literal in gjson", 0},
		{"a control character", []string{"a\tb"}, "control character", 0},
		{"the same path twice", []string{"a", "b", "a"}, `same value as path "a"`, 2},
		{"a path inside another", []string{"a.b", "a"}, `lies inside the value of path "a"`, 0},
		{"a key a wildcard also matches", []string{"a.*", "a.b.c"}, `path "a.*" also matches`, 1},
		{"a wildcard covering a key", []string{"email", "e*"}, `path "email" also matches`, 1},
		{"an index inside a hash path", []string{"data.#.email", "data.0"}, `path "data.#.email" also matches`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is rejected", func(t *testing.T) {
			_, err := Compile(tt.paths)
			if err == nil {
				t.Fatal("Compile succeeded")
			}
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *PathError", err)
			}
			if pe.Index != tt.index || pe.Path != tt.paths[tt.index] {
				t.Errorf("PathError names path %d %q, want %d %q", pe.Index, pe.Path, tt.index, tt.paths[tt.index])
			}
			if !strings.Contains(err.Error(), tt.reason) || !strings.Contains(err.Error(), strconv.Quote(tt.paths[tt.index])) {
				t.Errorf("error %q does not name the path and say %q", err, tt.reason)
			}
		})
	}
}

func TestCompileReportsEveryBadPath(t *testing.T) {
	_, err := Compile([]string{"ok", "@x", "fine.too", "a|b"})
	var idx []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var pe *PathError
		if errors.As(e, &pe) {
			idx = append(idx, pe.Index)
		}
	}
	if fmt.Sprint(idx) != "[1 3]" {
		t.Errorf("bad path indexes %v, want [1 3]", idx)
	}
}

func TestApplyErrors(t *testing.T) {
	t.Run("invalid JSON is refused and nothing is written", func(t *testing.T) {
		p, _ := Compile([]string{"a"})
		for _, doc := range []string{``, `{`, `{"a":1,}`, `{"a":1} x`, `{'a':1}`, `[1,2`, `{"a":"\x"}`, `nul`} {
			dst := []byte("keep")
			out, err := p.Apply(dst, []byte(doc), identity)
			if !errors.Is(err, ErrInvalidJSON) {
				t.Errorf("Apply(%q) error = %v, want ErrInvalidJSON", doc, err)
			}
			if string(out) != "keep" {
				t.Errorf("Apply(%q) wrote %q", doc, out)
			}
		}
	})
	t.Run("overlapping wildcard matches are an error naming both paths", func(t *testing.T) {
		p, err := Compile([]string{"a.x*", "a.*y"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Apply(nil, []byte(`{"a":{"xy":{"c":1}}}`), identity)
		var oe *OverlapError
		if !errors.As(err, &oe) || !errors.Is(err, ErrOverlap) {
			t.Fatalf("error = %v, want *OverlapError", err)
		}
		if !strings.Contains(err.Error(), `"a.x*"`) || !strings.Contains(err.Error(), `"a.*y"`) {
			t.Errorf("error %q does not name both paths", err)
		}
		// The same plan is fine where no key matches both wildcards.
		if _, err := p.Apply(nil, []byte(`{"a":{"xa":1,"by":2}}`), identity); err != nil {
			t.Errorf("non-overlapping document: %v", err)
		}
	})
	t.Run("two paths matching the same value overlap", func(t *testing.T) {
		p, _ := Compile([]string{"e*", "*l"})
		_, err := p.Apply(nil, []byte(`{"email":"x"}`), identity)
		if !errors.Is(err, ErrOverlap) {
			t.Fatalf("error = %v, want ErrOverlap", err)
		}
	})
	t.Run("an error from fn is wrapped with the path and dst is kept", func(t *testing.T) {
		p, _ := Compile([]string{"a", "b"})
		boom := errors.New("boom")
		dst := []byte("keep")
		out, err := p.Apply(dst, []byte(`{"a":1,"b":2}`), func(out []byte, i int, raw []byte) ([]byte, error) {
			if i == 1 {
				return out, boom
			}
			return append(out, raw...), nil
		})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), `"b"`) {
			t.Errorf("error = %v, want boom naming path b", err)
		}
		if string(out) != "keep" {
			t.Errorf("dst = %q, want it unchanged", out)
		}
	})
	t.Run("a pathological wildcard is refused rather than guessed", func(t *testing.T) {
		p, _ := Compile([]string{"*a*a*a*a*a*a*a*a*a*a*b*"})
		key := strings.Repeat("a", 300)
		_, err := p.Apply(nil, []byte(`{"`+key+`":1}`), identity)
		if !errors.Is(err, ErrPatternTooComplex) {
			t.Errorf("error = %v, want ErrPatternTooComplex", err)
		}
	})
}

func TestApplyAppendsToDst(t *testing.T) {
	p, _ := Compile([]string{"a"})
	out, err := p.Apply([]byte("prefix:"), []byte(`{"a":1}`), mark)
	if err != nil || string(out) != `prefix:{"a":"<0>"}` {
		t.Errorf("Apply = %q, %v", out, err)
	}
}

// TestApplyMatchesSjsonReference compares Apply with one sjson copy per
// matched value over many generated documents and path sets.
func TestApplyMatchesSjsonReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pathPool := []string{
		"a", "b", "email", "a.b", "a.b.c", "a.0", "a.1.b", "data.#.email", "#.email", "#.a.b",
		"users.#.contacts.#.email", "a.#.b", "*", "a.*", "e*", "a.?", "x\\.y", "x\\.y.a", "data.#", "0", "0.a",
		"users.#.name", "a.*.email", "b.#.#.a", "data.#.*",
	}
	compared, skipped, changed := 0, 0, 0
	for n := 0; n < 30000; n++ {
		doc := genValue(rng, 0, true)
		var paths []string
		for k := rng.IntN(4) + 1; k > 0; k-- {
			p := pathPool[rng.IntN(len(pathPool))]
			if strings.HasSuffix(p, ".#") {
				continue
			}
			paths = append(paths, p)
		}
		plan, err := Compile(paths)
		if err != nil {
			skipped++
			continue
		}
		if !gjson.Valid(doc) {
			t.Fatalf("generator made invalid JSON: %s", doc)
		}
		ident, err := plan.Apply(nil, []byte(doc), identity)
		if err != nil && !errors.Is(err, ErrOverlap) {
			t.Fatalf("identity Apply(%s, %q): %v", doc, paths, err)
		}
		if err == nil && string(ident) != doc {
			t.Fatalf("identity Apply changed %s into %s", doc, ident)
		}
		got, err := plan.Apply(nil, []byte(doc), wrapValue)
		if errors.Is(err, ErrOverlap) {
			skipped++
			continue
		}
		if err != nil {
			t.Fatalf("Apply(%s, %q): %v", doc, paths, err)
		}
		want, ok := referenceApply([]byte(doc), paths, wrapRef)
		if !ok {
			skipped++
			continue
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Apply(%s, %q) =\n%s\nreference\n%s", doc, paths, got, want)
		}
		compared++
		if string(got) != doc {
			changed++
		}
	}
	t.Logf("%d documents compared with the reference (%d with replacements), %d skipped (bad path set or overlap)", compared, changed, skipped)
	if compared < 10000 || changed < 2000 {
		t.Errorf("only %d documents compared (%d skipped); the generator needs attention", compared, skipped)
	}
}

// genValue makes a random JSON value with keys the path pool uses, varied
// whitespace and escapes, and no repeated keys.
func genValue(rng *rand.Rand, depth int, top bool) string {
	keys := []string{"a", "b", "c", "email", "data", "users", "contacts", "name", "x.y", "0", "1", "ex", "e"}
	ws := func() string { return []string{"", "", " ", "\n  ", "\t"}[rng.IntN(5)] }
	kind := rng.IntN(8)
	if top {
		kind = rng.IntN(2) + 6
	} else if depth < 3 && rng.IntN(2) == 0 {
		kind = rng.IntN(2) + 6
	}
	if depth > 4 && kind >= 6 {
		kind = rng.IntN(6)
	}
	switch kind {
	case 0:
		return []string{`"x"`, `"ada@example.com"`, `"q\"uote\\ \u00e9"`, `""`}[rng.IntN(4)]
	case 1:
		return []string{"0", "-1.5e3", "42", "3.14"}[rng.IntN(4)]
	case 2:
		return "true"
	case 3:
		return "false"
	case 4:
		return "null"
	case 5:
		return `"str"`
	case 6:
		var b strings.Builder
		b.WriteString("{" + ws())
		perm := rng.Perm(len(keys))[:rng.IntN(7)]
		for i, k := range perm {
			if i > 0 {
				b.WriteString("," + ws())
			}
			fmt.Fprintf(&b, "%q%s:%s%s", keys[k], ws(), ws(), genValue(rng, depth+1, false))
		}
		b.WriteString(ws() + "}")
		return b.String()
	default:
		var b strings.Builder
		b.WriteString("[" + ws())
		for i := range rng.IntN(4) {
			if i > 0 {
				b.WriteString("," + ws())
			}
			b.WriteString(genValue(rng, depth+1, false))
		}
		b.WriteString(ws() + "]")
		return b.String()
	}
}

func TestApplyDoesNotAllocate(t *testing.T) {
	p, err := Compile([]string{"email", "data.#.name", "a.*"})
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"note":"caf\u00e9 \"quoted\"","email":"x","n":-1.5e3,` +
		`"data":[{"name":"\u00e9"},{"name":null}],"a":{"k":[1,{"z":"\\"}]}}`)
	dst := make([]byte, 0, 4*len(doc))
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := p.Apply(dst[:0], doc, wrapValue); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Apply allocates %v times per call on a document with escaped strings", allocs)
	}
}

func TestApplyIsSafeForConcurrentUse(t *testing.T) {
	p, err := Compile(benchPaths)
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.Apply(nil, []byte(customer1KB), wrapValue)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			var out []byte
			for range 200 {
				var err error
				if out, err = p.Apply(out[:0], []byte(customer1KB), wrapValue); err != nil || !bytes.Equal(out, want) {
					errs <- fmt.Errorf("concurrent Apply = %s, %v", out, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
