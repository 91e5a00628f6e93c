package transform

import (
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/rewrite"
)

func operatorSide(t *testing.T, operators bool, paths ...string) *fieldmap.Side {
	t.Helper()
	plan, err := rewrite.Compile(paths)
	if err != nil {
		t.Fatal(err)
	}
	cl := &fieldmap.Class{Name: "rrn", Deterministic: true, Operators: operators}
	s := &fieldmap.Side{Plan: plan, Classes: []*fieldmap.Class{cl}}
	for _, p := range paths {
		s.Fields = append(s.Fields, fieldmap.Field{Path: p, Class: cl})
	}
	return s
}

func TestOperatorOperandsAreSealed(t *testing.T) {
	r := sidecartest.Ring(t, 1)
	seal := func(t *testing.T, side *fieldmap.Side, doc string) []byte {
		t.Helper()
		out, err := New(Params{Ring: r, Side: side}).Seal(nil, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	side := operatorSide(t, true, "selector.rrn", "rrn")
	want := gjson.GetBytes(seal(t, side, `{"rrn":"900101-1234567"}`), "rrn").Str // deterministic

	tests := []struct {
		name, doc string
		operands  []string // gjson paths that must hold the sealed plaintext
		kept      map[string]string
	}{
		{"a plain value is sealed as before", `{"selector":{"rrn":"900101-1234567"}}`, []string{"selector.rrn"}, nil},
		{"$eq's operand is sealed", `{"selector":{"rrn":{"$eq":"900101-1234567"}}}`, []string{"selector.rrn.$eq"}, nil},
		{"each $in element is sealed", `{"rrn":{"$in":["900101-1234567","900101-1234567"]}}`, []string{"rrn.$in.0", "rrn.$in.1"}, nil},
		{"nested operators are descended", `{"rrn":{"$not":{"$in":["900101-1234567"]}}}`, []string{"rrn.$not.$in.0"}, nil},
		{"several operators in one object", `{"rrn":{"$ne":"900101-1234567","$exists":true}}`, []string{"rrn.$ne"}, map[string]string{"rrn.$exists": "true"}},
		{"an escaped operator name is an operator", `{"rrn":{"\u0024eq":"900101-1234567"}}`, []string{`rrn.\$eq`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := seal(t, side, tt.doc)
			for _, p := range tt.operands {
				if got := gjson.GetBytes(out, p); got.Str != want {
					t.Fatalf("%s = %s, want the sealed value: %s", p, got.Raw, out)
				}
			}
			for p, v := range tt.kept {
				if got := gjson.GetBytes(out, p).Raw; got != v {
					t.Fatalf("%s = %s, want %s kept", p, got, v)
				}
			}
			if gjson.ValidBytes(out) == false {
				t.Fatalf("not JSON: %s", out)
			}
		})
	}
	t.Run("an object with a member not starting with $ is sealed whole", func(t *testing.T) {
		out := seal(t, side, `{"rrn":{"$eq":"900101-1234567","x":1}}`)
		if !sealedString(gjson.GetBytes(out, "rrn")) {
			t.Fatalf("%s", out)
		}
	})
	t.Run("without operators the operator object is sealed whole", func(t *testing.T) {
		out := seal(t, operatorSide(t, false, "rrn"), `{"rrn":{"$eq":"900101-1234567"}}`)
		if !sealedString(gjson.GetBytes(out, "rrn")) {
			t.Fatalf("%s", out)
		}
	})
	t.Run("a $exists operand that is not a boolean is sealed, not kept", func(t *testing.T) {
		out := seal(t, side, `{"rrn":{"$exists":"900101-1234567"}}`)
		if gjson.GetBytes(out, "rrn.$exists").Str != want {
			t.Fatalf("%s", out)
		}
	})
}
