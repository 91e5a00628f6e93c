package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/rewrite"
)

// lastWins reads path the way encoding/json (and many apps) see a document
// with duplicate keys: the last occurrence wins.
func lastWins(doc []byte, path string) (string, bool) {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return "", false
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = m[k]; !ok {
			return "", false
		}
	}
	b, _ := json.Marshal(v)
	return string(b), true
}

// FuzzTransformRequest sends arbitrary bodies to a protected write route.
// Either the proxy refuses (and the upstream sees nothing), or every
// configured field present in what the upstream got is sealed and opens back
// to the value the client sent, under both first-wins (gjson) and last-wins
// (encoding/json) readings of duplicate keys.
func FuzzTransformRequest(f *testing.F) {
	for _, seed := range []string{
		customer,
		`{"email":"a@b.c"}`,
		`{"email":1,"phone":true,"address":{"street":{"n":[1,2]}},"ssn":null}`,
		`{"email":"caf\u00e9 \"q\" \\ \n","phone":"\ud83d\ude00"}`,
		`{"email":"fs1:AAAA"}`,
		`{"address":[1,2],"email":[]}`,
		`[{"email":"x"}]`,
		`"just a string"`,
		`{"email":"a",}`,
		`{"email":"first","email":"second"}`,
		`{"address":{"street":"a"},"address":{"street":"b"}}`,
		``,
	} {
		f.Add([]byte(seed))
	}
	ring := testRing(f)
	keys := &keyHolder{}
	keys.p.Store(ring)
	up := newRecorder(f, func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(http.StatusNoContent) })
	p, err := New(Options{Upstream: up.url(f), Routes: testMap(f), Keys: keys, Logger: zerolog.Nop(), MaxBodyBytes: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(p.CloseIdleConnections)

	f.Fuzz(func(t *testing.T, body []byte) {
		before := len(up.requests())
		req := httptest.NewRequest(http.MethodPost, "/customers", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		reqs := up.requests()
		if rec.Code != http.StatusNoContent {
			if len(reqs) != before {
				t.Fatalf("status %d but the upstream got the request: %s", rec.Code, reqs[len(reqs)-1].Body)
			}
			if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d for a client body: %s", rec.Code, rec.Body)
			}
			return
		}
		if len(reqs) != before+1 {
			t.Fatalf("204 but the upstream saw %d new requests", len(reqs)-before)
		}
		got := reqs[len(reqs)-1].Body
		if len(body) == 0 {
			return
		}
		for _, fld := range customerFields {
			aad := crypto.AAD(nil, fld.class, "")
			check := func(how string, in string, inOK bool, out string, outOK bool) {
				if !inOK {
					return
				}
				if !outOK {
					t.Fatalf("%s %s: sent %s, upstream got nothing there: %s", how, fld.path, in, got)
				}
				if in == "null" || in == `""` { // the class leaves empty values as they are
					if out != in {
						t.Fatalf("%s %s: sent %s, upstream got %s", how, fld.path, in, out)
					}
					return
				}
				sealed := gjson.Parse(out)
				if sealed.Type != gjson.String || !crypto.IsSealed([]byte(sealed.Str)) {
					t.Fatalf("%s %s: upstream got unsealed %s", how, fld.path, out)
				}
				if in == out {
					return // sent already sealed, kept as is
				}
				pt, typ, _, err := ring.Open(nil, []byte(sealed.Str), aad)
				if err != nil {
					t.Fatalf("%s %s: does not open: %v", how, fld.path, err)
				}
				restored := string(pt)
				if typ == crypto.TypeString {
					restored = string(rewrite.AppendString(nil, pt))
				}
				if gjson.Valid(in) && gjson.Valid(restored) {
					var a, b any
					if json.Unmarshal([]byte(in), &a) == nil && json.Unmarshal([]byte(restored), &b) == nil {
						ja, _ := json.Marshal(a)
						jb, _ := json.Marshal(b)
						if string(ja) != string(jb) {
							t.Fatalf("%s %s: sent %s, opens to %s", how, fld.path, in, restored)
						}
					}
				}
			}
			in, out := gjson.GetBytes(body, fld.path), gjson.GetBytes(got, fld.path)
			check("first-wins", in.Raw, in.Exists(), out.Raw, out.Exists())
			inL, okIn := lastWins(body, fld.path)
			outL, okOut := lastWins(got, fld.path)
			check("last-wins", inL, okIn, outL, okOut)
		}
	})
}
