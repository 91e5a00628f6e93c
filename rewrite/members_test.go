package rewrite

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// sealMark replaces a matched value with "S<i>" so a test sees which match
// replaced it.
func sealMark(out []byte, i int, _ []byte) ([]byte, error) {
	if i == PrefixMatch {
		return append(out, `"P"`...), nil
	}
	return append(out, `"S`+string(rune('0'+i))+`"`...), nil
}

func TestApplyMembers(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		doc  string
		want string
	}{
		{"a member is replaced at the top level",
			Spec{Members: []string{"email"}}, `{"email":"a@x","n":1}`, `{"email":"S0","n":1}`},
		{"a member is replaced at any depth",
			Spec{Members: []string{"email"}}, `{"contact":{"email":"a@x"},"list":[{"x":[{"email":"b"}]}]}`,
			`{"contact":{"email":"S0"},"list":[{"x":[{"email":"S0"}]}]}`},
		{"a document wrapped in an array is scanned",
			Spec{Members: []string{"email"}}, `[{"email":"a"},{"email":"b"}]`, `[{"email":"S0"},{"email":"S0"}]`},
		{"members match case-insensitively by default",
			Spec{Members: []string{"email"}}, `{"EMAIL":"a","Email":"b","eMaIl":"c"}`, `{"EMAIL":"S0","Email":"S0","eMaIl":"S0"}`},
		{"case-sensitive members match exactly",
			Spec{Members: []string{"email"}, CaseSensitive: true}, `{"EMAIL":"a","email":"b"}`, `{"EMAIL":"a","email":"S0"}`},
		{"a member name with JSON escapes is compared unescaped",
			Spec{Members: []string{"email"}}, `{"\u0065mail":"a","EM\u0041IL":"b"}`, `{"\u0065mail":"S0","EM\u0041IL":"S0"}`},
		{"the Kelvin sign folds onto k as Go's encoding/json folds it",
			Spec{Members: []string{"kid"}}, "{\"\u212aid\":\"a\"}", "{\"\u212aid\":\"S0\"}"},
		{"a repeated member is replaced every time",
			Spec{Members: []string{"email"}}, `{"email":"a","email":"b"}`, `{"email":"S0","email":"S0"}`},
		{"a member value of any type is replaced whole",
			Spec{Members: []string{"email", "phone"}}, `{"email":{"home":"a","work":["b"]},"phone":[1,2]}`, `{"email":"S0","phone":"S1"}`},
		{"member names are not values",
			Spec{Members: []string{"email"}}, `{"type":"email","emails":["email"]}`, `{"type":"email","emails":["email"]}`},
		{"a path and a member on one value give the path",
			Spec{Paths: []string{"contact.email"}, Members: []string{"email"}}, `{"contact":{"email":"a"},"email":"b"}`,
			`{"contact":{"email":"S0"},"email":"S1"}`},
		{"a member outside a path's value covers it",
			Spec{Paths: []string{"address.street"}, Members: []string{"address"}}, `{"address":{"street":"1 Main"}}`,
			`{"address":"S1"}`},
		{"a path's value covers members inside it",
			Spec{Paths: []string{"contact"}, Members: []string{"email"}}, `{"contact":{"email":"a"}}`, `{"contact":"S0"}`},
		{"prefixed strings are found anywhere",
			Spec{Prefix: "fs1:"}, `{"a":["fs1:x",{"b":"fs1:y"}],"c":"fs2:z","fs1:k":1}`, `{"a":["P",{"b":"P"}],"c":"fs2:z","fs1:k":1}`},
		{"an escaped prefix is still the prefix",
			Spec{Prefix: "fs1:"}, `{"a":"\u0066s1:x","b":"f\u0073\u0031:y"}`, `{"a":"P","b":"P"}`},
		{"path components fold case as members do",
			Spec{Paths: []string{"contact.value", "x*"}}, `{"CONTACT":{"Value":"a"},"XY":"b"}`, `{"CONTACT":{"Value":"S0"},"XY":"S1"}`},
		{"case-sensitive paths match exactly",
			Spec{Paths: []string{"contact.value"}, CaseSensitive: true}, `{"CONTACT":{"value":"a"}}`, `{"CONTACT":{"value":"a"}}`},
		{"a member takes precedence over the prefix",
			Spec{Members: []string{"email"}, Prefix: "fs1:"}, `{"email":"fs1:x","other":"fs1:y"}`, `{"email":"S0","other":"P"}`},
		{"null under a path is not a shape mismatch",
			Spec{Paths: []string{"address.street"}, StrictShape: true}, `{"address":null}`, `{"address":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompileSpec(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Apply(nil, []byte(tt.doc), sealMark)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestApplyShapeMismatch(t *testing.T) {
	tests := []struct {
		name, path, doc, want string
	}{
		{"a string where an object is expected", "address.street", `{"address":"1 Main st"}`, "object"},
		{"an array where an object is expected", "address.street", `{"address":[{"street":"x"}]}`, "object"},
		{"an object where an array is expected", "#.email", `{"email":"a"}`, "array"},
		{"a number where an array is expected", "list.#.email", `{"list":5}`, "array"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			p, err := CompileSpec(Spec{Paths: []string{tt.path}, StrictShape: true})
			if err != nil {
				t.Fatal(err)
			}
			dst := []byte("keep")
			out, err := p.Apply(dst, []byte(tt.doc), sealMark)
			var se *ShapeError
			if !errors.As(err, &se) || !errors.Is(err, ErrShapeMismatch) {
				t.Fatalf("err = %v, want a *ShapeError", err)
			}
			if se.Want != tt.want || se.Path != tt.path {
				t.Errorf("ShapeError = %+v, want path %q and %q", se, tt.path, tt.want)
			}
			if string(out) != "keep" {
				t.Errorf("dst changed on error: %q", out)
			}
		})
		t.Run(tt.name+" passes without StrictShape", func(t *testing.T) {
			p, err := Compile([]string{tt.path})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Apply(nil, []byte(tt.doc), sealMark); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestApplyRefusesDeepDocumentsBeforeRecursing(t *testing.T) {
	p, err := CompileSpec(Spec{Members: []string{"email"}, MaxDepth: 8})
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{
		"nine levels":          `[[[[[[[[[1]]]]]]]]]`,
		"a mebibyte of '['":    strings.Repeat("[", 1<<20),
		"objects nest as well": strings.Repeat(`{"a":`, 9) + "1" + strings.Repeat("}", 9),
	} {
		if _, err := p.Apply(nil, []byte(doc), sealMark); !errors.Is(err, ErrTooDeep) {
			t.Errorf("%s: err = %v, want ErrTooDeep", name, err)
		}
	}
	for name, doc := range map[string]string{
		"eight levels":               `[[[[[[[[1]]]]]]]]`,
		"brackets inside strings":    `{"a":"[[[[[[[[[[[[[["}`,
		"an escaped quote in string": `{"a":"\"[[[[[[[[[[[[[["}`,
	} {
		if _, err := p.Apply(nil, []byte(doc), sealMark); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCompileSpecRejectsDuplicateMembers(t *testing.T) {
	if _, err := CompileSpec(Spec{Members: []string{"email", "EMAIL"}}); err == nil {
		t.Error("members equal under folding were accepted")
	}
	if _, err := CompileSpec(Spec{Members: []string{"email", "EMAIL"}, CaseSensitive: true}); err != nil {
		t.Errorf("case-sensitive members: %v", err)
	}
	if _, err := CompileSpec(Spec{Members: []string{""}}); err == nil {
		t.Error("an empty member name was accepted")
	}
}

func TestApplyMembersDoesNotAllocate(t *testing.T) {
	p, err := CompileSpec(Spec{Paths: []string{"address.street"}, Members: []string{"email", "phone"}, Prefix: "fs1:"})
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(customer1KB)
	dst := make([]byte, 0, 4*len(doc))
	_, _ = p.Apply(dst[:0], doc, sealMark)
	if n := testing.AllocsPerRun(50, func() { _, _ = p.Apply(dst[:0], doc, sealMark) }); n > 0 {
		t.Errorf("Apply allocates %.0f times per document", n)
	}
}

// FuzzMembers checks the guard's promise: whatever the document and however
// a member is spelled, no object member that Go's encoding/json would bind
// to a member name survives with its original value.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{"email":"a"}`, `{"EMAIL":"a"}`, `[{"contact":{"Email":"a"}}]`, `{"\u0045mail":"a"}`,
		`{"a":[[{"e_mail":{"x":1}}]],"email":null}`, "{\"\u212a\":1}", `{"email":"a","email":"b"}`,
		customer, customer1KB,
	} {
		f.Add([]byte(s))
	}
	members := []string{"email", "e_mail", "phone", "k"}
	p, err := CompileSpec(Spec{Members: members})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := p.Apply(nil, doc, func(out []byte, _ int, _ []byte) ([]byte, error) {
			return append(out, `"SEALED"`...), nil
		})
		if err != nil {
			return // refused: nothing would be forwarded
		}
		// Numbers stay text: a valid number beyond float64 (2e400) must not
		// read as an invalid document.
		var v any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if !json.Valid(out) || dec.Decode(&v) != nil {
			if json.Valid(doc) {
				t.Fatalf("valid %q became invalid %q", doc, out)
			}
			return
		}
		sidecartest.EachMember(v, func(k string, e any) {
			for _, m := range members {
				if strings.EqualFold(k, m) && e != "SEALED" {
					t.Fatalf("member %q survived in %q: %q", k, doc, out)
				}
			}
		})
		if !bytes.Contains(doc, []byte(`"`)) && !bytes.Equal(bytes.TrimSpace(out), bytes.TrimSpace(doc)) {
			t.Fatalf("a document without strings changed: %q -> %q", doc, out)
		}
	})
}
