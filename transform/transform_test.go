package transform

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/mask"
	"github.com/fieldseal/fieldseal/rewrite"
)

const customer = `{"id":7,"email":"ada@example.com","phone":"+44 20 7946 0958","address":{"street":"12 Engine Way","city":"London"},"ssn":"123-45-6789"}`

func TestSealedDocumentsOpenToTheOriginal(t *testing.T) {
	r := sidecartest.Ring(t, 2)
	for _, tt := range []struct {
		name, path, doc string
		fields          []string
	}{
		{"customer fields are sealed, the rest is untouched", "/customers", customer, []string{"email", "phone", "address.street", "ssn"}},
		{"every JSON type is sealed and comes back with its type", "/types",
			`{"s":"caf\u00e9 \"q\"","n":-1.5e3,"b":true,"z":null,"o":{"k":[1,{"x":"y"}]},"a":[1,"two",false]}`,
			[]string{"s", "n", "b", "z", "o", "a"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var st Stats
			sealed, err := New(Params{Ring: r, Side: testSide(t, "POST", tt.path), Stats: &st}).Seal(nil, []byte(tt.doc))
			if err != nil {
				t.Fatalf("seal: %v", err)
			}
			for _, p := range tt.fields {
				if v := gjson.GetBytes(sealed, p); !sealedString(v) {
					t.Errorf("%s is not sealed: %s", p, v.Raw)
				}
			}
			if len(st.KeyIDs) != 1 || st.KeyIDs[0] != 2 || len(st.Fields) == 0 {
				t.Errorf("stats = %+v, want the primary key 2 and the sealed fields", st)
			}
			tr := New(Params{Ring: r, Side: testSide(t, "POST", tt.path)})
			opened, err := tr.Open(nil, sealed)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			var want, got any
			if json.Unmarshal([]byte(tt.doc), &want) != nil || json.Unmarshal(opened, &got) != nil {
				t.Fatalf("not JSON: %s", opened)
			}
			wb, _ := json.Marshal(want)
			gb, _ := json.Marshal(got)
			if string(wb) != string(gb) || !tr.Changed() {
				t.Errorf("opened %s, want %s (changed %v)", opened, tt.doc, tr.Changed())
			}
		})
	}
}

func TestOpenGivesEachCallerItsAction(t *testing.T) {
	r := sidecartest.Ring(t, 2)
	s := testSide(t, "GET", "/customers")
	doc := `[{"email":"` + sealOne(t, r, "email", `"ada@example.com"`) + `","phone":"+44 20 7946 0958"}]`
	masks, err := mask.NewSet(map[string]mask.Spec{"email": {Format: "email"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		action Action
		// check sees the opened email (sealed) and phone (legacy plaintext).
		check func(t *testing.T, email, phone gjson.Result)
		// result is the stat of the sealed email value.
		op, result string
	}{
		{"decrypt caller gets the plaintext, legacy values as they are", ActionDecrypt, func(t *testing.T, email, phone gjson.Result) {
			if email.Str != "ada@example.com" || phone.Str != "+44 20 7946 0958" {
				t.Errorf("email %s, phone %s", email.Raw, phone.Raw)
			}
		}, OpOpen, ResultOK},
		{"mask caller gets masked values, legacy ones too", ActionMask, func(t *testing.T, email, phone gjson.Result) {
			if email.Str != "fsm:a***@example.com" || !strings.HasPrefix(phone.Str, mask.Prefix) || strings.Contains(phone.Str, "7946") {
				t.Errorf("email %s, phone %s", email.Raw, phone.Raw)
			}
		}, OpMask, ResultOK},
		{"sealed caller gets ciphertext, legacy plaintext sealed on the way out", ActionSealed, func(t *testing.T, email, phone gjson.Result) {
			if !sealedString(email) || !sealedString(phone) {
				t.Errorf("email %s, phone %s", email.Raw, phone.Raw)
			}
		}, OpKeep, ResultOK},
		{"denied caller never sees plaintext", ActionDeny, func(t *testing.T, email, phone gjson.Result) {
			if !sealedString(email) || !sealedString(phone) {
				t.Errorf("email %s, phone %s", email.Raw, phone.Raw)
			}
		}, OpKeep, ResultDenied},
		{"an unknown action is a deny", Action(0), func(t *testing.T, email, phone gjson.Result) {
			if !sealedString(email) || !sealedString(phone) {
				t.Errorf("email %s, phone %s", email.Raw, phone.Raw)
			}
		}, OpKeep, ResultDenied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var st Stats
			tr := New(Params{Ring: r, Side: s, Caller: caller{actions: map[string]Action{"email": tt.action, "phone": tt.action}}, Masker: masks, Stats: &st})
			out, err := tr.Open(nil, []byte(doc))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			tt.check(t, gjson.GetBytes(out, "0.email"), gjson.GetBytes(out, "0.phone"))
			found := false
			for _, f := range st.Fields {
				if f.Class == "email" {
					found = f.Op == tt.op && f.Result == tt.result && f.Action == tt.action.normalize() && f.Count == 1
				}
			}
			if !found {
				t.Errorf("stats %+v, want email %s/%s under %v", st.Fields, tt.op, tt.result, tt.action.normalize())
			}
		})
	}
}

func TestSealRefusesWhatMustNotBeStored(t *testing.T) {
	r := sidecartest.Ring(t, 2)
	s := testSide(t, "POST", "/customers")
	phoneSealedAsEmail := sealOne(t, r, "email", `"+44 20 7946 0958"`)
	for _, tt := range []struct {
		name   string
		doc    string
		caller Caller
		want   error
		path   string
		accept bool // Params.AcceptSealed
	}{
		{"a masked value sent back is refused", `{"email":"fsm:a***@example.com"}`, nil, ErrMaskedValue, "email", false},
		{"a masked value hidden by an escape is refused", `{"email":"fsm\u003aa***@example.com"}`, nil, ErrMaskedValue, "email", false},
		{"a sealed value cut from another field is refused", `{"phone":"` + phoneSealedAsEmail + `"}`, nil, ErrInvalidSealedValue, "phone", true},
		{"a sealed value is refused from a caller who reads plaintext", `{"email":"` + phoneSealedAsEmail + `"}`, nil, ErrSealedWrite, "email", false},
		{"a sealed value is refused from a caller who reads it sealed", `{"email":"` + phoneSealedAsEmail + `"}`, caller{actions: everyClass(ActionSealed)}, ErrSealedWrite, "email", false},
		{"a sealed value at an unmapped place is refused", `{"notes":["` + phoneSealedAsEmail + `"]}`, nil, ErrSealedWrite, "(a sealed value)", false},
		{"a class denied to the caller is refused", `{"email":"ada@example.com"}`, caller{actions: everyClass(ActionDeny)}, ErrForbidden, "email", false},
		{"a class the caller may not write is refused", `{"ssn":"123-45-6789"}`, caller{actions: everyClass(ActionDecrypt), noWrite: map[string]bool{"ssn": true}}, ErrForbidden, "ssn", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var st Stats
			_, err := New(Params{Ring: r, Side: s, Caller: tt.caller, Stats: &st, AcceptSealed: tt.accept}).Seal(nil, []byte(tt.doc))
			var fe *FieldError
			if !errors.Is(err, tt.want) || !errors.As(err, &fe) || fe.Path != tt.path {
				t.Fatalf("Seal = %v, want a field error on %s wrapping %v", err, tt.path, tt.want)
			}
			if strings.Contains(err.Error(), "example.com") || strings.Contains(err.Error(), "6789") {
				t.Errorf("error text carries the value: %v", err)
			}
		})
	}
	email := sealOne(t, r, "email", `"ada@example.com"`)
	for name, p := range map[string]Params{
		"with sealed writes accepted":           {AcceptSealed: true},
		"from a caller allowed to write sealed": {Caller: sealedWriter{caller{actions: everyClass(ActionDecrypt)}}},
	} {
		t.Run("a value already sealed for its field is kept "+name, func(t *testing.T) {
			var st Stats
			p.Ring, p.Side, p.Stats = r, s, &st
			tr := New(p)
			out, err := tr.Seal(nil, []byte(`{"email":"`+email+`","notes":"`+email+`"}`))
			// notes is no field: the value opens for email, which the
			// caller may send sealed, so it is kept too.
			if err != nil || gjson.GetBytes(out, "email").Str != email || tr.Changed() {
				t.Fatalf("Seal = %s, %v (changed %v); want the value kept", out, err, tr.Changed())
			}
			if len(st.Fields) != 2 || st.Fields[0].Op != OpKeep || st.Fields[0].Result != ResultAlreadySealed {
				t.Errorf("stats %+v", st.Fields)
			}
		})
	}
	t.Run("text that merely starts like a sealed value is kept", func(t *testing.T) {
		out, err := New(Params{Ring: r, Side: s}).Seal(nil, []byte(`{"notes":"fs1:hello world"}`))
		if err != nil || gjson.GetBytes(out, "notes").Str != "fs1:hello world" {
			t.Fatalf("Seal = %s, %v", out, err)
		}
	})
	t.Run("a document that is not JSON is the document's error", func(t *testing.T) {
		_, err := New(Params{Ring: r, Side: s}).Seal(nil, []byte(`{"email":"a",}`))
		var fe *FieldError
		if !errors.Is(err, rewrite.ErrInvalidJSON) || errors.As(err, &fe) {
			t.Errorf("Seal = %v, want rewrite.ErrInvalidJSON", err)
		}
	})
}

// KeepSealedElsewhere is a second pass, under another route's side, over a
// document a first Seal produced: a well-formed sealed value no path or
// member names is kept unopened whoever the caller (the first pass checked
// it); a named one must still open for its field, the rest is sealed as by
// any Seal, and what no Seal may store is still refused.
func TestKeepSealedElsewhereSealsOnlyWhatIsLeft(t *testing.T) {
	r := sidecartest.Ring(t, 2)
	s := testSide(t, "POST", "/customers")
	email := sealOne(t, r, "email", `"ada@example.com"`)
	var st Stats
	tr := New(Params{Ring: r, Side: s, Stats: &st, AcceptSealed: true, KeepSealedElsewhere: true})
	out, err := tr.Seal(nil, []byte(`{"notes":"`+email+`","email":"`+email+`","phone":"+44 20 7946 0958"}`))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if gjson.GetBytes(out, "notes").Str != email || gjson.GetBytes(out, "email").Str != email {
		t.Errorf("sealed values not kept as they were: %s", out)
	}
	if !sealedString(gjson.GetBytes(out, "phone")) {
		t.Errorf("phone not sealed: %s", out)
	}
	if len(st.Fields) != 2 || st.Fields[0].Class != "email" || st.Fields[0].Result != ResultAlreadySealed || st.Fields[1].Class != "phone" || st.Fields[1].Result != ResultOK {
		t.Errorf("stats %+v, want email kept (notes unopened, uncounted) and phone sealed", st.Fields)
	}
	for doc, want := range map[string]error{
		`{"phone":"` + email + `"}`:        ErrInvalidSealedValue, // named: must open for its field
		`{"email":"fs1:hello world"}`:      ErrInvalidSealedValue, // starts like one, is none
		`{"email":"fsm:a***@example.com"}`: ErrMaskedValue,
	} {
		if _, err := New(Params{Ring: r, Side: s, AcceptSealed: true, KeepSealedElsewhere: true}).Seal(nil, []byte(doc)); !errors.Is(err, want) {
			t.Errorf("Seal(%s) = %v, want %v", doc, err, want)
		}
	}
}

func TestValuesThatDoNotOpen(t *testing.T) {
	r := sidecartest.Ring(t, 2)
	s := testSide(t, "GET", "/customers")
	sealed := sealOne(t, r, "email", `"ada@example.com"`)
	tampered := sealed[:len(sealed)-2] + "AA"
	if tampered == sealed {
		tampered = sealed[:len(sealed)-2] + "BB"
	}
	doc := []byte(`[{"email":"` + tampered + `"}]`)
	t.Run("fail the document by default", func(t *testing.T) {
		_, err := New(Params{Ring: r, Side: s}).Open(nil, doc)
		if !errors.Is(err, ErrOpen) {
			t.Errorf("Open = %v, want ErrOpen", err)
		}
	})
	t.Run("are left sealed and counted with LeaveSealedOnOpenError", func(t *testing.T) {
		var st Stats
		out, err := New(Params{Ring: r, Side: s, LeaveSealedOnOpenError: true, Stats: &st}).Open(nil, doc)
		if err != nil || gjson.GetBytes(out, "0.email").Str != tampered {
			t.Fatalf("Open = %s, %v; want the value left as it was", out, err)
		}
		if len(st.Fields) != 1 || st.Fields[0].Result != ResultError {
			t.Errorf("stats %+v", st.Fields)
		}
	})
}

// refresher hands out a newer ring and counts the calls.
type refresher struct {
	ring  *crypto.Keyring
	calls []uint32
}

func (f *refresher) RefreshForKey(_ context.Context, id uint32) (*crypto.Keyring, error) {
	f.calls = append(f.calls, id)
	return f.ring, nil
}

func TestUnknownKeysAreRefreshedOncePerRefresh(t *testing.T) {
	old, newer := sidecartest.Ring(t, 1), sidecartest.Ring(t, 3)
	s := testSide(t, "GET", "/customers")
	doc := []byte(`[{"email":"` + sealOne(t, newer, "email", `"a@example.com"`) + `"},{"email":"` + sealOne(t, newer, "email", `"b@example.com"`) + `"}]`)
	keys := &refresher{ring: newer}
	refresh := &Refresh{Keys: keys, Ctx: context.Background()}
	tr := New(Params{Ring: old, Side: s, Refresh: refresh})
	out, err := tr.Open(nil, doc)
	if err != nil || gjson.GetBytes(out, "0.email").Str != "a@example.com" || gjson.GetBytes(out, "1.email").Str != "b@example.com" {
		t.Fatalf("Open = %s, %v; want both values opened with the refreshed ring", out, err)
	}
	if len(keys.calls) != 1 || keys.calls[0] != 3 || tr.Ring() != newer {
		t.Errorf("refreshes %v (ring switched %v), want one for key 3", keys.calls, tr.Ring() == newer)
	}
	// A second Transform sharing the Refresh (the response after the
	// request) does not refresh again.
	_, err = New(Params{Ring: old, Side: s, Refresh: refresh}).Open(nil, doc)
	if !errors.Is(err, ErrOpen) || !errors.Is(err, crypto.ErrUnknownKey) || len(keys.calls) != 1 {
		t.Errorf("second Open = %v after %d refreshes; want ErrOpen without another refresh", err, len(keys.calls))
	}
}

func TestStatsCountEachFate(t *testing.T) {
	var st Stats
	st.add("email", ActionDecrypt, OpSeal, ResultOK, ViaPath)
	st.add("email", ActionDecrypt, OpSeal, ResultOK, ViaPath)
	st.add("email", ActionDecrypt, OpKeep, ResultAlreadySealed, ViaPath)
	for _, id := range []uint32{3, 1, 3, 2} {
		st.key(id)
	}
	if len(st.Fields) != 2 || st.Fields[0].Count != 2 || st.Fields[1].Count != 1 {
		t.Errorf("fields %+v", st.Fields)
	}
	if len(st.KeyIDs) != 3 || st.KeyIDs[0] != 1 || st.KeyIDs[1] != 2 || st.KeyIDs[2] != 3 {
		t.Errorf("key ids %v, want 1 2 3", st.KeyIDs)
	}
}

func TestResetAllocatesNothing(t *testing.T) {
	p := Params{Ring: sidecartest.Ring(t, 2), Side: testSide(t, "POST", "/bench"), Caller: caller{actions: everyClass(ActionMask)}}
	var tr Transform
	if n := testing.AllocsPerRun(100, func() { tr.Reset(p) }); n != 0 {
		t.Errorf("Reset allocates %v times, want 0 (the proxy embeds Transforms in pooled request state)", n)
	}
}

func TestActionNames(t *testing.T) {
	for _, a := range []Action{ActionDecrypt, ActionMask, ActionSealed, ActionDeny} {
		got, err := ParseAction(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAction(%q) = %v, %v", a, got, err)
		}
	}
	if _, err := ParseAction("reveal"); err == nil {
		t.Error("ParseAction accepted an unknown name")
	}
	if Action(9).String() != "action(9)" || Action(9).normalize() != ActionDeny {
		t.Errorf("unknown action: %q, normalized %v", Action(9), Action(9).normalize())
	}
}

func TestStatsMergeCountsASecondPassApart(t *testing.T) {
	var first, second Stats
	first.add("email", ActionDecrypt, OpSeal, ResultOK, ViaPath)
	first.key(2)
	second.add("email", ActionDecrypt, OpKeep, ResultAlreadySealed, ViaPath)
	second.add("email", ActionDecrypt, OpKeep, ResultLegacy, ViaPath)
	second.add("email", ActionSealed, OpKeep, ResultOK, ViaPath)
	second.add("email", ActionDecrypt, OpKeep, ResultSealedRefused, ViaPath)
	second.add("phone", ActionDecrypt, OpSeal, ResultOK, ViaPath)
	second.add("phone", ActionDecrypt, OpSeal, ResultError, ViaPath)
	second.key(1)
	first.MergeSecondPass(&second)
	want := []FieldStat{
		{Class: "email", Action: ActionDecrypt, Op: OpSeal, Result: ResultOK, Via: ViaPath, Count: 1},
		{Class: "email", Action: ActionDecrypt, Op: OpKeep, Result: ResultSealedRefused, Via: ViaPath, Count: 1},
		{Class: "phone", Action: ActionDecrypt, Op: OpSeal, Result: ResultOK, Via: ViaPath, Count: 1},
		{Class: "phone", Action: ActionDecrypt, Op: OpSeal, Result: ResultError, Via: ViaPath, Count: 1},
	}
	if !slices.Equal(first.Fields, want) || !slices.Equal(first.KeyIDs, []uint32{1, 2}) {
		t.Errorf("MergeSecondPass = %+v %v, want %+v [1 2]", first.Fields, first.KeyIDs, want)
	}
}
