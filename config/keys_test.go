package config

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config.md from Reference()")

const referenceDoc = "../docs/config.md"

func TestReferenceDoc(t *testing.T) {
	want := Reference()
	if *update {
		if err := os.MkdirAll("../docs", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(referenceDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(referenceDoc)
	if err != nil {
		t.Fatalf("read %s (run go test ./config -run TestReferenceDoc -update): %v", referenceDoc, err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date with config.Reference(); run go test ./config -run TestReferenceDoc -update", referenceDoc)
	}
}

// TestKeyConstantsMatchReference checks that every Key constant is in the
// reference table exactly once, under its own name, and that its doc comment
// says what the table says.
func TestKeyConstantsMatchReference(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "keys.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	type decl struct{ value, doc string }
	consts := map[string]decl{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Key" {
				continue
			}
			v, _ := strconv.Unquote(vs.Values[0].(*ast.BasicLit).Value)
			consts[vs.Names[0].Name] = decl{v, strings.Join(strings.Fields(vs.Doc.Text()), " ")}
		}
	}
	seen := map[string]bool{}
	for _, row := range keyDocs() {
		c, ok := consts[row.name]
		switch {
		case !ok:
			t.Errorf("reference row %q names constant %s, which keys.go does not declare", row.key, row.name)
			continue
		case seen[row.name]:
			t.Errorf("constant %s has two reference rows", row.name)
		case c.value != string(row.key):
			t.Errorf("reference row for %s has key %q, the constant says %q", row.name, row.key, c.value)
		}
		seen[row.name] = true
		if want := row.name + " is " + row.doc; c.doc != want {
			t.Errorf("doc comment of %s:\n  %s\nreference says:\n  %s", row.name, c.doc, want)
		}
	}
	for name := range consts {
		if !seen[name] {
			t.Errorf("constant %s is missing from the reference table", name)
		}
	}
	if len(consts) < 30 {
		t.Errorf("found only %d Key constants; is the parser reading keys.go?", len(consts))
	}
}
