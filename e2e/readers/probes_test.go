package readers_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

const victim = "victim.person@example.com"

// sealedEmail returns a value sealed for class email by the writer.
func sealedEmail(t *testing.T, e env) string {
	it := apiItems(t, e.s, "seal", e.writer, `{"items":[{"class":"email","value":"`+victim+`"}]}`)
	var v string
	if err := json.Unmarshal(it[0]["value"], &v); err != nil || !strings.HasPrefix(v, "fs1:") {
		t.Fatalf("seal: %s", it[0]["value"])
	}
	return v
}

// The API's route documents must refuse a sealed value copied from elsewhere
// (at a place no path names), as the proxy does, for callers without
// write_sealed.
func TestAPIDocumentSmugglesSealedValue(t *testing.T) {
	e := start(t, "", &sidecartest.API{})
	v := sealedEmail(t, e)
	for _, item := range []string{
		`{"route":"customers","document":{"notes":"` + v + `"}}`,
		`{"fields":[{"path":"contact","class":"phone"}],"document":{"notes":"` + v + `"}}`,
		`{"fields":[{"path":"contact","class":"phone"}],"document":{"x":["` + v + `"]}}`,
		`{"class":"phone","value":{"x":"` + v + `"}}`,
		`{"class":"phone","value":["` + v + `"]}`,
	} {
		it := apiItems(t, e.s, "seal", e.reader, `{"items":[`+item+`]}`)
		if _, ok := it[0]["error"]; !ok {
			t.Errorf("seal %s by a caller without write_sealed: %s, want sealed_value_refused", item, it[0])
		}
	}
}

// A class member nested in a value mapped to another class must not reach
// a caller as plaintext when its own class is masked for that caller.
func TestNestedMemberInsideObjectPath(t *testing.T) {
	e := start(t, "", &sidecartest.API{})
	r := e.s.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", Header: bearer(e.writer),
		JSON: `{"contact":{"email":"` + victim + `","phone":"+82 10 1111 2222"}}`})
	if r.Status != 200 {
		t.Fatalf("write: %d %s", r.Status, r.Body)
	}
	e.up.mustNotHold(t, victim)
	stored := e.up.last()
	e.up.answer(200, "application/json", stored, nil)
	r = e.s.Do(t, sidecartest.Req{Method: "GET", Path: "/customers/1", Header: bearer(e.reader)})
	if strings.Contains(string(r.Body), victim) {
		t.Errorf("reader (email: mask) got the e-mail in plaintext through the proxy: %d %s (stored %s)", r.Status, r.Body, stored)
	}
	// The same through the API: the writer seals with a field list, the
	// reader opens.
	it := apiItems(t, e.s, "seal", e.writer, `{"items":[{"fields":[{"path":"contact","class":"phone"}],"document":{"contact":{"email":"`+victim+`"}}}]}`)
	it = apiItems(t, e.s, "open", e.reader, `{"items":[{"fields":[{"path":"contact","class":"phone"}],"document":`+string(it[0]["document"])+`}]}`)
	if strings.Contains(string(it[0]["document"]), victim) {
		t.Errorf("reader (email: mask) got the e-mail in plaintext from /v1/open: %s", it[0]["document"])
	}
}

// Legacy plaintext of a class must not reach a caller who may only see it
// masked, whatever the response's status or type.
func TestLegacyPlaintextInResponses(t *testing.T) {
	e := start(t, "", nil)
	legacy := `{"email":"` + victim + `"}`
	for _, c := range []struct {
		name, path, ctype string
		status            int
		hdr               map[string]string
	}{
		{"200 json listed", "/customers/1", "application/json", 200, nil},
		{"404 json listed", "/customers/1", "application/json", 404, nil},
		{"409 json unlisted", "/other/1", "application/json", 409, nil},
		{"200 text/plain listed", "/customers/1", "text/plain", 200, nil},
		{"200 no type listed", "/customers/1", "", 200, nil},
		{"206 json unlisted", "/other/1", "application/json", 206, map[string]string{"Content-Range": "bytes 0-35/36"}},
	} {
		e.up.answer(c.status, c.ctype, legacy, c.hdr)
		r := e.s.Do(t, sidecartest.Req{Method: "GET", Path: c.path, Header: bearer(e.reader)})
		if strings.Contains(string(r.Body), victim) {
			t.Errorf("%s: reader (email: mask) got legacy plaintext: %d %s", c.name, r.Status, r.Body)
		}
	}
}

// Lookups need the right to write the class; opens by an encrypt-only
// caller stay sealed.
func TestAPILookupAndOpenRights(t *testing.T) {
	e := start(t, "", &sidecartest.API{})
	r := e.s.CallAPI(t, "lookup", e.nobody, `{"items":[{"class":"rrn","value":"900101-1234567"}]}`)
	if strings.Contains(string(r.Body), `"value":"fs1:`) {
		t.Errorf("lookup by a write: none caller answered a value: %s", r.Body)
	}
	v := sealedEmail(t, e)
	for _, tok := range []string{e.writer, e.nobody, ""} {
		r = e.s.CallAPI(t, "open", tok, `{"items":[{"class":"email","value":"`+v+`"},{"fields":[{"path":"x","class":"phone"}],"document":{"y":"`+v+`"}}]}`)
		if strings.Contains(string(r.Body), victim) {
			t.Errorf("open by %q: %s", tok[:min(len(tok), 8)], r.Body)
		}
	}
}

// Query operators: no operand reaches the store in plaintext.
func TestOperatorsOperands(t *testing.T) {
	e := start(t, "", nil)
	for _, q := range []string{
		`{"selector":{"rrn":{"$regex":"900101-1234567"}}}`,
		`{"selector":{"rrn":{"$type":"string","$eq":"900101-1234567"}}}`,
		`{"selector":{"rrn":{"$not":{"$in":["900101-1234567"]}}}}`,
		`{"selector":{"rrn":{"$elemMatch":{"$eq":"900101-1234567"}}}}`,
		`{"selector":{"rrn":{"$exists":"900101-1234567"}}}`,
	} {
		r := e.s.Do(t, sidecartest.Req{Method: "POST", Path: "/db/_find", Header: bearer(e.writer), JSON: q})
		_ = r
	}
	e.up.mustNotHold(t, "900101")
}

// A caller denied a class may not write it (403), nested in a value of
// another class included.
func TestDeniedMemberInsideObjectPath(t *testing.T) {
	e := start(t, "", nil)
	r := e.s.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", Header: bearer(e.limited),
		JSON: `{"email":"` + victim + `"}`})
	if r.Status != 403 {
		t.Fatalf("control: email by a caller denied email: %d %s", r.Status, r.Body)
	}
	r = e.s.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", Header: bearer(e.limited),
		JSON: `{"contact":{"email":"` + victim + `"}}`})
	if r.Status != 403 {
		t.Errorf("email nested in contact (class phone) by a caller denied email: %d %s, want 403", r.Status, r.Body)
	}
}
