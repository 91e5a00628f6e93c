package rewrite

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/match"
)

// Reproductions from attacking the one-pass scanner (round 3, adversary 2):
// each compares what a plan selects with what encoding/json decodes.

// TestWildcardFoldsLikeEncodingJSON: a wildcard path component is compared
// after strings.ToLower, which leaves U+017F LATIN SMALL LETTER LONG S as it
// is, while encoding/json (and the member set, with strings.EqualFold) fold
// it onto 's'. {"ſſn_home":..} binds to a field tagged "ssn_home" and is
// stored in plaintext although the route seals "ssn_*".
func TestWildcardFoldsLikeEncodingJSON(t *testing.T) {
	p, err := CompileSpec(Spec{Paths: []string{"ssn_*"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ssn_home", "SSN_home", "\u212assn_x", "\u017f\u017fn_home", "\u017fsn_home", "SSN_HOME"} {
		doc := `{"` + key + `":"123-45-6789"}`
		var bound struct {
			SSN string `json:"ssn_home"`
		}
		if err := json.Unmarshal([]byte(doc), &bound); err != nil {
			t.Fatal(err)
		}
		if bound.SSN == "" {
			continue // encoding/json does not read it as ssn_home
		}
		out, err := p.Apply(nil, []byte(doc), sealMark)
		if err != nil {
			t.Fatalf("Apply(%s): %v", doc, err)
		}
		if strings.Contains(string(out), "123-45-6789") {
			t.Errorf("encoding/json binds %q to ssn_home, but path ssn_* left it: %s", key, out)
		}
	}
}

// TestEscapedKeyDecodesLikeEncodingJSON: member names with escapes are
// decoded with gjson; a lone surrogate escape followed by another escape
// must decode as encoding/json decodes it (U+FFFD, then the next
// character), or a wildcard sees another key than the application stores.
// This held when written.
func TestEscapedKeyDecodesLikeEncodingJSON(t *testing.T) {
	const pattern = "*_ssn"
	p, err := CompileSpec(Spec{Paths: []string{pattern}})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{`home\u005Fssn`, `\uD800\u005Fssn`, `\uDC00\u005Fssn`, `x\uD83D\u005Fssn`} {
		doc := `{"` + raw + `":"123-45-6789"}`
		var m map[string]any
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		for key := range m {
			if !match.Match(key, pattern) {
				continue
			}
			out, err := p.Apply(nil, []byte(doc), sealMark)
			if err != nil {
				t.Fatalf("Apply(%s): %v", doc, err)
			}
			if strings.Contains(string(out), "123-45-6789") {
				t.Errorf("encoding/json reads key %q (matches %s) from %s, but the plan left it: %s", key, pattern, raw, out)
			}
		}
	}
}
