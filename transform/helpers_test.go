package transform

import (
	"testing"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/strictyaml"
)

// testFieldMap is the field map the transform tests run against (the
// proxy's), decoded the way the config package decodes it and compiled by
// the real fieldmap package.
const testFieldMap = sidecartest.UnitFieldMap

// testSide returns a side of the route serving method and path: the
// request side for POST, the response side for GET.
func testSide(t testing.TB, method, path string) *fieldmap.Side {
	t.Helper()
	var spec fieldmap.Spec
	if _, err := strictyaml.Decode([]byte(testFieldMap), "test.yaml", &spec); err != nil {
		t.Fatalf("decode test field map: %v", err)
	}
	spec.SealedPrefix = crypto.Prefix
	m, err := fieldmap.Compile(spec)
	if err != nil {
		t.Fatalf("compile test field map: %v", err)
	}
	r := m.Match(method, path)
	if r == nil {
		t.Fatalf("no route for %s %s", method, path)
	}
	if method == "POST" {
		return r.Request
	}
	return r.Response
}

// caller is a Caller with a fixed action per class; classes it does not
// name get the zero Action (which the transform must treat as deny).
type caller struct {
	actions map[string]Action
	noWrite map[string]bool
}

func (c caller) Action(class string) Action { return c.actions[class] }
func (c caller) MayWrite(class string) bool { return !c.noWrite[class] }

// everyClass gives a the four classes of the customers route.
func everyClass(a Action) map[string]Action {
	return map[string]Action{"email": a, "phone": a, "street": a, "ssn": a}
}

// sealedString reports whether v is a JSON string carrying the sealed prefix.
func sealedString(v gjson.Result) bool {
	return v.Type == gjson.String && crypto.IsSealed([]byte(v.Str))
}

// sealOne seals a raw JSON value for class with ring r, as Seal would.
func sealOne(t testing.TB, r *crypto.Keyring, class, raw string) string {
	t.Helper()
	typ, pt := jsonType([]byte(raw)), []byte(raw)
	if typ == crypto.TypeString {
		pt = []byte(gjson.Parse(raw).Str)
	}
	s, err := r.Seal(nil, pt, typ, crypto.ModeRandom, crypto.AAD(nil, class, ""))
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	return string(s)
}

// sealedWriter is a caller that may send sealed values of every class.
type sealedWriter struct{ caller }

func (sealedWriter) MayWriteSealed(string) bool { return true }
