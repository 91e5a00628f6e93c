package transform

import (
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"testing"

	"github.com/tidwall/gjson"
)

func TestEmptyValuesFollowTheClass(t *testing.T) {
	r := sidecartest.Ring(t, 1)
	const doc = `{"email":"","phone":null,"address":{"street":"\"\""},"ssn":"123-45-6789"}`
	t.Run("null and empty strings are left as they are by default", func(t *testing.T) {
		var st Stats
		sealed, err := New(Params{Ring: r, Side: testSide(t, "POST", "/customers"), Stats: &st}).Seal(nil, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if e, p := gjson.GetBytes(sealed, "email").Raw, gjson.GetBytes(sealed, "phone").Raw; e != `""` || p != "null" {
			t.Fatalf("email %s, phone %s: want them as sent", e, p)
		}
		for _, path := range []string{"address.street", "ssn"} { // a non-empty string is sealed
			if !sealedString(gjson.GetBytes(sealed, path)) {
				t.Fatalf("%s not sealed: %s", path, sealed)
			}
		}
		n := 0
		for _, f := range st.Fields {
			if f.Result == ResultEmpty && f.Op == OpKeep {
				n += f.Count
			}
		}
		if n != 2 {
			t.Fatalf("stats = %+v, want two empty values kept", st.Fields)
		}
	})
	t.Run("an empty value read back is not sealed for a caller who may not read the class", func(t *testing.T) {
		side := testSide(t, "GET", "/customers")
		out, err := New(Params{Ring: r, Side: side, Caller: caller{actions: everyClass(ActionSealed)}}).Open(nil, []byte(`[{"email":"","phone":null}]`))
		if err != nil || string(out) != `[{"email":"","phone":null}]` {
			t.Fatalf("open = %s, %v", out, err)
		}
	})
	t.Run("a class with seal_empty seals them and they come back", func(t *testing.T) {
		side := testSide(t, "POST", "/types") // class profile has seal_empty: true
		sealed, err := New(Params{Ring: r, Side: side}).Seal(nil, []byte(`{"s":"","z":null}`))
		if err != nil {
			t.Fatal(err)
		}
		if !sealedString(gjson.GetBytes(sealed, "s")) || !sealedString(gjson.GetBytes(sealed, "z")) {
			t.Fatalf("not sealed: %s", sealed)
		}
		opened, err := New(Params{Ring: r, Side: side}).Open(nil, sealed)
		if err != nil || string(opened) != `{"s":"","z":null}` {
			t.Fatalf("open = %s, %v", opened, err)
		}
	})
}
