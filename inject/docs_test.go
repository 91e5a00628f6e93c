package inject

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestAnnotationsAreDocumented keeps docs/kubernetes.md's annotation table and
// the Annotation* constants in annotations.go in step: every constant has a
// doc comment and a table row, and every row names a constant.
func TestAnnotationsAreDocumented(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "annotations.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Annotation") {
					continue
				}
				if vs.Doc == nil || !strings.HasPrefix(vs.Doc.Text(), name.Name+" ") {
					t.Errorf("%s has no doc comment starting with its name", name.Name)
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				if !strings.HasPrefix(v, "fieldseal.io/") {
					t.Errorf("%s = %q is not under fieldseal.io/", name.Name, v)
				}
				declared = append(declared, v)
			}
		}
	}
	if len(declared) < 12 {
		t.Fatalf("found only %d annotation constants: %v", len(declared), declared)
	}

	doc, err := os.ReadFile(filepath.Join("..", "docs", "kubernetes.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(fieldseal\\.io/[a-z-]+)` \\|")
	var documented []string
	for _, m := range row.FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	for _, a := range declared {
		if !slices.Contains(documented, a) {
			t.Errorf("annotation %s is declared but has no row in docs/kubernetes.md", a)
		}
	}
	for _, a := range documented {
		if !slices.Contains(declared, a) {
			t.Errorf("docs/kubernetes.md documents %s, which annotations.go does not declare", a)
		}
	}
	if len(documented) != len(slices.Compact(slices.Sorted(slices.Values(documented)))) {
		t.Errorf("docs/kubernetes.md lists an annotation twice: %v", documented)
	}
}
