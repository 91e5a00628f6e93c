package config

import (
	"encoding"
	"flag"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/proxy"
)

var update = flag.Bool("update", false, "rewrite docs/config.md from Reference()")

const referenceDoc = "../docs/config.md"

func TestReferenceDoc(t *testing.T) {
	sidecartest.Golden(t, referenceDoc, []byte(Reference()), *update)
}

// TestReferenceCoversEveryKey checks that every key the decoder accepts
// (the yaml tags of Config and the types it holds) has exactly one
// reference row, and every row names such a key. Sections declared by other
// packages (auth, policies, audit, a class's mask; not errors) are one row each; their
// keys are documented with their package in docs/auth.md.
func TestReferenceCoversEveryKey(t *testing.T) {
	keys := map[string]bool{}
	schemaKeys(reflect.TypeFor[Config](), "", keys)
	// Both body sides share one schema, documented once.
	for k := range keys {
		for _, side := range []string{"routes[].request[].", "routes[].response[]."} {
			if rest, ok := strings.CutPrefix(k, side); ok {
				delete(keys, k)
				keys["routes[].<side>[]."+rest] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, row := range keyDocs() {
		switch {
		case seen[row.key]:
			t.Errorf("key %s has two reference rows", row.key)
		case !keys[row.key]:
			t.Errorf("reference row %s names no key the decoder accepts", row.key)
		}
		seen[row.key] = true
		if row.doc == "" || row.typ == "" {
			t.Errorf("reference row %s lacks its type or meaning", row.key)
		}
	}
	for k := range keys {
		if !seen[k] {
			t.Errorf("key %s is missing from the reference table", k)
		}
	}
	if len(keys) < 30 {
		t.Errorf("found only %d keys; is the walk reading the yaml tags?", len(keys))
	}
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	ownPackages     = []string{reflect.TypeFor[Config]().PkgPath(), reflect.TypeFor[fieldmap.Spec]().PkgPath(),
		reflect.TypeFor[proxy.ErrorsSpec]().PkgPath()} // the errors section is documented key by key here

)

// schemaKeys adds the keys of struct type t, under prefix, to out, walking
// the types the way internal/strictyaml decodes them.
func schemaKeys(t reflect.Type, prefix string, out map[string]bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case !ok || name == "-":
		case opts == "inline":
			schemaKeys(sf.Type, prefix, out)
		case name != "":
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			out[key] = true
			schemaValue(sf.Type, key, out)
		}
	}
}

func schemaValue(t reflect.Type, key string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return
	}
	switch t.Kind() {
	case reflect.Slice:
		e := t.Elem()
		if e.Kind() != reflect.Struct || reflect.PointerTo(e).Implements(textUnmarshaler) {
			return
		}
		if keyed(e) {
			schemaKeys(e, key+".<name>", out)
		} else {
			schemaKeys(e, key+"[]", out)
		}
	case reflect.Struct:
		if slices.Contains(ownPackages, t.PkgPath()) {
			schemaKeys(t, key, out)
		}
	}
}

// keyed reports whether struct type t (or a struct it inlines) has a ,key
// field: a list of them is written as a mapping.
func keyed(t reflect.Type) bool {
	for i := range t.NumField() {
		switch t.Field(i).Tag.Get("yaml") {
		case ",key":
			return true
		case ",inline":
			if keyed(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
