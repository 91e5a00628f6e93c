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
	"github.com/fieldseal/fieldseal/fieldmap"
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
					restored = string(appendJSONString(nil, pt))
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

// benchDoc is a 1 KB customer document with the 5 fields of the bench route.
var benchDoc = func() []byte {
	doc := `{"id":12345,"name":"Ada Lovelace","email":"ada.lovelace@example.com","phone":"+44 20 7946 0958",` +
		`"address":{"street":"12 Analytical Engine Way","city":"London","zip":"NW1 6XE","country":"GB"},` +
		`"ssn":"123-45-6789","created":"2026-01-02T03:04:05Z","tags":["vip","beta","newsletter"],` +
		`"preferences":{"language":"en-GB","timezone":"Europe/London","marketing":false,"theme":"dark"},` +
		`"notes":"` + strings.Repeat("lorem ipsum dolor sit amet ", 22) + `","orders":[1001,1002,1003,1004],"active":true}`
	return []byte(doc)
}()

func benchRoute(b *testing.B) *fieldmap.Route {
	r := testMap(b).Match(http.MethodPost, "/bench")
	if r == nil || r.Request == nil || len(r.Request.Fields) != 5 {
		b.Fatal("bench route missing from the test config")
	}
	return r
}

// BenchmarkTransform1KB5Fields measures one document through each direction
// as the proxy runs it per request: policy lookup, then rewrite.Apply's one
// pass (validation included) with a seal or open per field, into a pooled
// buffer.
func BenchmarkTransform1KB5Fields(b *testing.B) {
	ring := testRing(b)
	route := benchRoute(b)
	var pool bufferPool
	var st stats
	sealOnce := func() []byte {
		t := newTransform(ring, route.Request, fullAccess{}, "", true, &st)
		out, err := t.sealDoc(nil, benchDoc)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	sealed := sealOnce()
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchDoc)))
		for b.Loop() {
			st.fields, st.keys = st.fields[:0], st.keys[:0]
			var t transform // embedded in the request state in the proxy
			t.init(ring, route.Request, fullAccess{}, "", true, &st)
			buf := pool.get()
			out, err := t.sealDoc((*buf)[:0], benchDoc)
			if err != nil {
				b.Fatal(err)
			}
			*buf = out
			pool.put(buf)
		}
	})
	// The rewrite pass alone (validation and walk, values copied unchanged):
	// what seal and open cost beyond it is crypto and the proxy's own work.
	// The sealed document is larger (base64 values), so opening walks more.
	identity := func(out []byte, _ int, raw []byte) ([]byte, error) { return append(out, raw...), nil }
	for _, doc := range []struct {
		name string
		doc  []byte
	}{{"rewrite-only-plain", benchDoc}, {"rewrite-only-sealed", sealed}} {
		b.Run(doc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc.doc)))
			buf := make([]byte, 0, 2*len(sealed))
			for b.Loop() {
				var err error
				if buf, err = route.Request.Plan.Apply(buf[:0], doc.doc, identity); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(sealed)))
		for b.Loop() {
			st.fields, st.keys = st.fields[:0], st.keys[:0]
			var t transform
			t.init(ring, route.Response, fullAccess{}, "", false, &st)
			buf := pool.get()
			out, err := t.openDoc((*buf)[:0], sealed)
			if err != nil {
				b.Fatal(err)
			}
			*buf = out
			pool.put(buf)
		}
	})
}

// BenchmarkAES5Fields is the crypto share of BenchmarkTransform1KB5Fields:
// the same five values with the same modes (four random, ssn deterministic)
// sealed and opened with nothing around them.
func BenchmarkAES5Fields(b *testing.B) {
	ring := testRing(b)
	values := [][]byte{[]byte("ada.lovelace@example.com"), []byte("+44 20 7946 0958"), []byte("12 Analytical Engine Way"), []byte("NW1 6XE"), []byte("123-45-6789")}
	modes := []crypto.Mode{crypto.ModeRandom, crypto.ModeRandom, crypto.ModeRandom, crypto.ModeRandom, crypto.ModeDeterministic}
	aad := crypto.AAD(nil, "email", "")
	var sealed [][]byte
	for i, v := range values {
		s, err := ring.Seal(nil, v, crypto.TypeString, modes[i], aad)
		if err != nil {
			b.Fatal(err)
		}
		sealed = append(sealed, s)
	}
	buf := make([]byte, 0, 256)
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i, v := range values {
				buf, _ = ring.Seal(buf[:0], v, crypto.TypeString, modes[i], aad)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range sealed {
				buf, _, _, _ = ring.Open(buf[:0], s, aad)
			}
		}
	})
}
