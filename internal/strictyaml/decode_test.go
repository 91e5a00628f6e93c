package strictyaml

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

type shade string

// UnmarshalText accepts the two shades a test document may name.
func (s *shade) UnmarshalText(b []byte) error {
	if string(b) != "light" && string(b) != "dark" {
		return fmt.Errorf("%q is not light or dark", b)
	}
	*s = shade(b)
	return nil
}

type Base struct {
	Name string `yaml:"name"`
	Line int
}

type doc struct {
	Title   string        `yaml:"title"`
	On      bool          `yaml:"on"`
	Count   int           `yaml:"count"`
	Wait    time.Duration `yaml:"wait"`
	Shade   shade         `yaml:"shade"`
	Tags    []string      `yaml:"tags"`
	Parts   []part        `yaml:"parts"`
	Kinds   []kind        `yaml:"kinds"`
	Votes   []vote        `yaml:"votes"`
	Choice  *choice       `yaml:"choice"`
	Section *section      `yaml:"section"`
	Skip    string        `yaml:"-"`
}

type part struct {
	Base `yaml:",inline"`
	Size int `yaml:"size"`
}

type kind struct {
	Name string `yaml:",key"`
	Mode string `yaml:"mode"`
	Line int
}

type vote struct {
	Who  string `yaml:",key"`
	Says string `yaml:",value"`
	Line int
}

// choice is "all" or a list, like a policy's write.
type choice struct {
	All  bool
	List []string `yaml:",seq"`
	Line int
}

func (c *choice) UnmarshalText(b []byte) error {
	if string(b) != "all" {
		return fmt.Errorf("want all or a list, not %q", b)
	}
	c.All = true
	return nil
}

type section struct {
	Key string `yaml:"key"`
}

func TestDecodeFillsEveryShape(t *testing.T) {
	const text = `title: t
on: true
count: 0x10
wait: 1m30s
shade: dark
tags: [a, b]
parts:
  - name: p
    size: 3
kinds:
  k1: {mode: fast}
  k2:
votes: {ann: yes-please, bob: no}
choice: [x, y]
section: {key: v}
`
	var d doc
	lines, err := Decode([]byte(text), "d.yaml", &d)
	if err != nil {
		t.Fatal(err)
	}
	want := doc{Title: "t", On: true, Count: 16, Wait: 90 * time.Second, Shade: "dark", Tags: []string{"a", "b"},
		Parts:   []part{{Base: Base{Name: "p", Line: 8}, Size: 3}},
		Kinds:   []kind{{Name: "k1", Mode: "fast", Line: 11}, {Name: "k2", Line: 12}},
		Votes:   []vote{{Who: "ann", Says: "yes-please", Line: 13}, {Who: "bob", Says: "no", Line: 13}},
		Choice:  &choice{List: []string{"x", "y"}, Line: 14},
		Section: &section{Key: "v"},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", d, want)
	}
	for path, line := range map[string]int{"title": 1, "parts[0]": 8, "parts[0].size": 9, "kinds.k2": 12, "tags[1]": 6} {
		if got, ok := lines.Line(path); !ok || got != line {
			t.Errorf("line of %s = %d, %v; want %d", path, got, ok, line)
		}
	}
	if lines.At("absent") != 1 {
		t.Errorf("a missing key is not placed at the root")
	}
}

func TestDecodeTextUnmarshalerScalar(t *testing.T) {
	var d doc
	if _, err := Decode([]byte("choice: all\n"), "d.yaml", &d); err != nil || d.Choice == nil || !d.Choice.All || d.Choice.Line != 1 {
		t.Fatalf("choice = %+v, %v", d.Choice, err)
	}
}

func TestDecodeReportsEveryProblemWithItsLine(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"an empty file is refused", "", []string{"d.yaml: file is empty"}},
		{"broken YAML names its line", "title: x\ntags: [\n", []string{"d.yaml:2: invalid YAML near here"}},
		{"a list at the top is refused", "- a\n", []string{"d.yaml:1: the top level must be a mapping"}},
		{"two documents are refused", "title: a\n---\ntitle: b\n", []string{"d.yaml:2: only one YAML document is allowed"}},
		{"an unknown key is reported", "title: t\ntitel: u\n", []string{`d.yaml:2: unknown key "titel" in the top level`}},
		{"a misspelled key gets the nearest known one", "titel: u\n", []string{`d.yaml:1: unknown key "titel" in the top level (did you mean "title"?)`}},
		{"a misspelled inline key gets the nearest known one", "parts:\n  - nmae: p\n", []string{`unknown key "nmae" in parts[0] (did you mean "name"?)`}},
		{"a case slip gets the nearest known one", "Count: 1\n", []string{`(did you mean "count"?)`}},
		{"an ignored field is not a key", "Skip: x\n", []string{`d.yaml:1: unknown key "Skip"`}},
		{"an unknown nested key names its place", "parts:\n  - name: p\n    colour: red\n", []string{`d.yaml:3: unknown key "colour" in parts[0]`}},
		{"an unknown key in a keyed entry names it", "kinds:\n  k:\n    speed: 1\n", []string{`d.yaml:3: unknown key "speed" in kinds.k`}},
		{"a repeated key is reported", "title: a\ntitle: b\n", []string{`d.yaml:2: key "title" repeated in the top level (first at line 1)`}},
		{"a number for a string is reported", "title: 8\n", []string{"d.yaml:1: title must be a string, not a number; quote it"}},
		{"a flow mapping for a string is explained", "tags: [{a}]\n", []string{"d.yaml:1: tags must be a string, not a mapping; quote values that contain { or ["}},
		{"a quoted boolean is refused", "on: \"yes\"\n", []string{"d.yaml:1: on must be true or false"}},
		{"a word for a number is refused", "count: many\n", []string{"d.yaml:1: count must be an integer"}},
		{"a number too large is refused", "count: 4294967296\n", []string{"d.yaml:1: count must be an integer between"}},
		{"a bad duration is reported", "wait: 30\n", []string{`d.yaml:1: wait: "30" is not a duration`}},
		{"a text unmarshaler's error is reported at its line", "title: t\nshade: grey\n", []string{`d.yaml:2: shade: "grey" is not light or dark`}},
		{"a mapping for a list is refused", "tags: {a: 1}\n", []string{"d.yaml:1: tags must be a list"}},
		{"a list for a section is refused", "section: [a]\n", []string{"d.yaml:1: section must be a mapping of keys to values"}},
		{"an empty section key is refused", "section:\n", []string{"d.yaml:1: section must be a mapping of keys to values"}},
		{"an empty text value says what it wants", "choice:\n", []string{`d.yaml:1: choice: want all or a list, not ""`}},
		{"every problem is reported at once", "titel: x\ncount: x\nwait: soon\n",
			[]string{`d.yaml:1: unknown key "titel"`, "d.yaml:2: count must be an integer", `d.yaml:3: wait: "soon"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			_, err := Decode([]byte(tt.yaml), "d.yaml", &d)
			sidecartest.WantFileProblems(t, err, "d.yaml", tt.want)
		})
	}
}

func TestDecodeKeepsDefaultsOfRefusedValues(t *testing.T) {
	d := doc{Title: "default", Count: 7}
	lines, err := Decode([]byte("title: [x]\ncount: 8\n"), "d.yaml", &d)
	if err == nil || lines == nil {
		t.Fatalf("lines %v, err %v", lines, err)
	}
	if d.Title != "default" || d.Count != 8 {
		t.Errorf("decoded %+v", d)
	}
}

func TestDecodeFollowsAliases(t *testing.T) {
	var d doc
	if _, err := Decode([]byte("kinds: {a: &m {mode: x}, b: *m}\n"), "d.yaml", &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Kinds) != 2 || d.Kinds[1].Mode != "x" || d.Kinds[1].Name != "b" {
		t.Errorf("kinds = %+v", d.Kinds)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("title: t\nparts: [{name: p}]\nkinds: {a: }\n"))
	f.Add([]byte("votes: {a: b}\nchoice: all\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d doc
		_, err := Decode(data, "f.yaml", &d)
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "f.yaml:") {
				t.Fatalf("problem %q does not start with the file name", line)
			}
		}
	})
}

func TestNearestSuggestsOnlyTypos(t *testing.T) {
	known := []string{"listen", "log", "limits", "upstream", "keys"}
	tests := []struct {
		name, want string
	}{
		{"lissen", "listen"}, // one substitution
		{"upstraem", "upstream"},
		{"LOG", "log"},  // case is not an edit
		{"key", "keys"}, // one insertion, name long enough
		{"lgo", ""},     // a swap is two edits: too many for three letters
		{"port", ""},    // three edits from "log"
		{"colour", ""},  // far from everything
		{"xy", ""},      // too short to guess
	}
	for _, tt := range tests {
		got, ok := nearest(tt.name, known)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("nearest(%q) = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
	if _, ok := nearest("x", nil); ok {
		t.Errorf("nearest with no known keys suggested something")
	}
}
