package transform

import (
	"encoding/json"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
)

// FuzzGuardSpellings checks the guard's promise from the member's side: a
// value under any spelling of a class key (case, JSON escapes, Unicode
// folding), at any depth, inside objects and arrays, never comes out of
// Seal in plaintext where Go's encoding/json would bind it to the key.
func FuzzGuardSpellings(f *testing.F) {
	for _, s := range []struct {
		name   string
		depth  uint8
		arrays bool
	}{{"email", 0, false}, {"EMAIL", 3, true}, {`\u0045mail`, 1, false}, {"eMaIl", 7, true}, {"\u212aey", 2, false}, {"e_mail", 1, true}} {
		f.Add(s.name, "alice@example.com", s.depth, s.arrays)
	}
	m, err := fieldmap.Compile(fieldmap.Spec{
		Classes:      []fieldmap.ClassSpec{{Name: "email", Keys: []string{"email", "e_mail"}}, {Name: "key", Keys: []string{"key"}}},
		SealedPrefix: crypto.Prefix,
	})
	if err != nil {
		f.Fatal(err)
	}
	ring := sidecartest.Ring(f, 1)
	side := m.Unmatched().Request
	f.Fuzz(func(t *testing.T, name, value string, depth uint8, arrays bool) {
		if !utf8.ValidString(value) || len(value) < 4 || strings.ContainsAny(value, `"\`) || strings.Contains(value, crypto.Prefix) {
			return
		}
		var quoted string
		if b, err := json.Marshal(name); err == nil && !strings.Contains(name, `\`) {
			quoted = string(b)
		} else {
			quoted = `"` + name + `"` // an escaped spelling, as given
		}
		doc := `{` + quoted + `:"` + value + `"}`
		for i := 0; i < int(depth%12); i++ {
			if arrays && i%2 == 1 {
				doc = `[1,` + doc + `]`
			} else {
				doc = `{"n":` + doc + `,"x":true}`
			}
		}
		var decoded any
		if json.Unmarshal([]byte(doc), &decoded) != nil {
			return
		}
		out, err := New(Params{Ring: ring, Side: side}).Seal(nil, []byte(doc))
		if err != nil {
			return // refused: nothing is forwarded
		}
		var got any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output is not JSON: %v: %s", err, out)
		}
		sidecartest.EachMember(got, func(k string, e any) {
			for _, key := range []string{"email", "e_mail", "key"} {
				if strings.EqualFold(k, key) {
					if s, ok := e.(string); !ok || !strings.HasPrefix(s, crypto.Prefix) {
						t.Fatalf("member %q kept %v in %s", k, e, out)
					}
				}
			}
		})
	})
}
