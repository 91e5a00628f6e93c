package proxy

import (
	"slices"
	"testing"
)

// A POST body's _method is read as Laravel reads input('_method'): a string
// member at the top level, its name compared case-insensitively after JSON
// unescaping. The quick filter never hides a name that reads so.
func TestJSONMethodsReadsATopLevelMethodMember(t *testing.T) {
	for doc, want := range map[string][]string{
		`{"_method":"PUT"}`:                    {"PUT"},
		`{"a":1,"_METHOD":"patch","b":[1]}`:    {"patch"},
		`{"\u005fmethod":"PUT"}`:               {"PUT"},
		`{"_meth\u006fd":"DELETE"}`:            {"DELETE"},
		`{"_method":"GET","_method":"PUT"}`:    {"GET", "PUT"},
		`{"first_name":"ada","last_name":"l"}`: nil,
		`{"a":{"_method":"PUT"}}`:              nil,              // not at the top level
		`{"_method":["PUT",1,"PATCH"]}`:        {"PUT", "PATCH"}, // method-override takes an array's first
		`{"x_method":"PUT","_methods":"PUT"}`:  nil,
		`["_method","PUT"]`:                    nil,
	} {
		var got []string
		jsonMethods([]byte(doc), func(v string) { got = append(got, v) })
		if !slices.Equal(got, want) {
			t.Errorf("jsonMethods(%s) = %q, want %q", doc, got, want)
		}
	}
	for doc, want := range map[string]bool{
		`{"first_name":"x"}`: false,
		`{"_MeThOd":"x"}`:    true,
		`{"x":"\u0041"}`:     true,
		`{"_metho":"x"}`:     false,
		`_method`:            true,
	} {
		if got := mayNameMethod([]byte(doc)); got != want {
			t.Errorf("mayNameMethod(%s) = %v, want %v", doc, got, want)
		}
	}
}
