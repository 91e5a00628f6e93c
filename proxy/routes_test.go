package proxy

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// A POST body's _method is read as Laravel reads input('_method'): a string
// member at the top level, its name compared case-insensitively after JSON
// unescaping. The quick filter never hides a name that reads so.
func TestJSONMethodsReadsATopLevelMethodMember(t *testing.T) {
	for doc, want := range map[string][]string{
		`{"_method":"PUT"}`:                    {"PUT"},
		`{"a":1,"_METHOD":"patch","b":[1]}`:    {"patch"},
		`{"\u005fmethod":"PUT"}`:               {"PUT"},
		`{"_meth\u006fd":"DELETE"}`:            {"DELETE"},
		`{"_method":"GET","_method":"PUT"}`:    {"GET", "PUT"},
		`{"first_name":"ada","last_name":"l"}`: nil,
		`{"a":{"_method":"PUT"}}`:              nil,              // not at the top level
		`{"_method":["PUT",1,"PATCH"]}`:        {"PUT", "PATCH"}, // method-override takes an array's first
		`{"x_method":"PUT","_methods":"PUT"}`:  nil,
		`["_method","PUT"]`:                    nil,
	} {
		var got []string
		jsonMethods([]byte(doc), func(v string) { got = append(got, v) })
		if !slices.Equal(got, want) {
			t.Errorf("jsonMethods(%s) = %q, want %q", doc, got, want)
		}
	}
	for doc, want := range map[string]bool{
		`{"first_name":"x"}`: false,
		`{"_MeThOd":"x"}`:    true,
		`{"x":"\u0041"}`:     true,
		`{"_metho":"x"}`:     false,
		`_method`:            true,
	} {
		if got := mayNameMethod([]byte(doc)); got != want {
			t.Errorf("mayNameMethod(%s) = %v, want %v", doc, got, want)
		}
	}
}

// A response opened only by another route of the request (here the GET
// route a PATCH override leaves behind, in its header context) differs from
// the upstream's bytes as much as one the request's own route opened: its
// ETag is made weak and its digest dropped.
func TestResponseOpenedByAnotherRouteIsMarkedChanged(t *testing.T) {
	const fm = `
classes:
  note: { mode: random }
routes:
  - name: notes-patch
    methods: [PATCH]
    paths: ["/notes/{id}"]
  - name: notes-read
    methods: [GET]
    paths: ["/notes/{id}"]
    context: { header: X-Tenant-ID }
    response: [ {path: text, class: note} ]
`
	ring := testRing(t)
	doc := `{"text":"` + sealFor(t, ring, "note", "t1", `"call back"`) + `"}`
	h := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Digest", "sha-256=:AAAA:")
		_, _ = w.Write([]byte(doc))
	}, func(o *Options) { o.Routes = compileFieldMap(t, fm, "notes.yaml") })
	h.keys.p.Store(ring)
	resp, body := h.do(t, http.MethodGet, "/notes/1", http.Header{"X-Http-Method-Override": {"PATCH"}, "X-Tenant-Id": {"t1"}}, nil)
	if resp.StatusCode != http.StatusOK || !jsonEqual(t, string(body), `{"text":"call back"}`) {
		t.Fatalf("GET /notes/1 overridden to PATCH: %d %s, want text opened by notes-read", resp.StatusCode, body)
	}
	if et := resp.Header.Get("ETag"); et != `W/"v1"` {
		t.Errorf("ETag %q, want the upstream's made weak", et)
	}
	if d := resp.Header.Get("Content-Digest"); d != "" {
		t.Errorf("Content-Digest %q kept for a body that differs from the upstream's", d)
	}
}

// A query two routes of the request seal differently (another class) is
// refused as the body is (sealAlso): no sealed form of it opens under both.
func TestQueryTwoRoutesSealDifferentlyIsAmbiguous(t *testing.T) {
	const fm = `
classes:
  email: { mode: deterministic }
  phone: { mode: deterministic }
routes:
  - name: accounts-create
    methods: [POST]
    paths: [/accounts]
    query: [ {param: q, class: email} ]
  - name: accounts-search
    methods: [GET]
    paths: [/accounts]
    query: [ {param: q, class: phone} ]
`
	h := newHarness(t, nil, func(o *Options) { o.Routes = compileFieldMap(t, fm, "accounts.yaml") })
	resp, body := h.do(t, http.MethodGet, "/accounts?q=ada", http.Header{"X-Http-Method-Override": {"POST"}}, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "ambiguous_route") || len(h.up.requests()) != 0 {
		t.Errorf("GET /accounts?q= overridden to POST: %d %s, upstream got %d requests; want 400 ambiguous_route and none", resp.StatusCode, body, len(h.up.requests()))
	}
}
