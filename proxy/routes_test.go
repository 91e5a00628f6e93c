package proxy

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/fieldmap"
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

// addBodyRoutes adds the route of each method a body names once, however
// often and in whatever case it is named, and skips values that name no
// method (that each costs only a comparison with the map's methods, never
// a path lookup, BenchmarkAddBodyRoutes shows).
func TestAddBodyRoutesAddsEachRouteOnce(t *testing.T) {
	rs, r := bodyRoutesState(bodyRoutesMap(t))
	if err := rs.addBodyRoutes(r, distinctMethods(40000, "put", "PUT", " patch ", "get")); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, route := range rs.also {
		names = append(names, route.Name)
	}
	if !slices.Equal(names, []string{"update", "patch"}) {
		t.Errorf("routes added = %v, want update and patch once each (get is the request's own)", names)
	}
}

// BenchmarkAddBodyRoutes reads n distinct _method values that name no
// method, plus one that does: the cost per value stays flat as n grows.
func BenchmarkAddBodyRoutes(b *testing.B) {
	m := bodyRoutesMap(b)
	for _, n := range []int{1000, 40000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				rs, r := bodyRoutesState(m)
				if err := rs.addBodyRoutes(r, distinctMethods(n, "PUT")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bodyRoutesMap has GET, POST, PUT and PATCH routes on /accounts/{id}.
func bodyRoutesMap(t testing.TB) *fieldmap.Map {
	return compileFieldMap(t, `
classes: {secret: {mode: random}}
routes:
  - {name: read, methods: [GET], paths: ["/accounts/{id}"], response: [{path: v, class: secret}]}
  - {name: action, methods: [POST], paths: ["/accounts/{id}"], request: [{path: n, class: secret}]}
  - {name: update, methods: [PUT], paths: ["/accounts/{id}"], request: [{path: v, class: secret}]}
  - {name: patch, methods: [PATCH], paths: ["/accounts/{id}"], request: [{path: w, class: secret}]}
`, "m.yaml")
}

// bodyRoutesState is the request state of a request to /accounts/1 on m
// read as GET.
func bodyRoutesState(m *fieldmap.Map) (*reqState, *http.Request) {
	r := httptest.NewRequest(http.MethodGet, "/accounts/1", nil)
	rs := &reqState{}
	rs.lookup(m, r)
	return rs, r
}

// distinctMethods yields n distinct values that name no method, then known.
func distinctMethods(n int, known ...string) func(yield func(string)) {
	return func(yield func(string)) {
		for i := range n {
			yield("x" + strconv.Itoa(i))
		}
		for _, k := range known {
			yield(k)
		}
	}
}

// Looking up the routes of a plain request costs no allocation for the
// header lookup: it stays on the stack (LookupAll does not keep it).
func TestLookupOfAPlainRequestDoesNotAllocate(t *testing.T) {
	m := bodyRoutesMap(t)
	r := httptest.NewRequest(http.MethodGet, "/accounts/1", nil)
	r.Header.Set("Content-Type", "application/json")
	rs := &reqState{}
	if allocs := testing.AllocsPerRun(100, func() { rs.lookup(m, r) }); allocs != 0 {
		t.Errorf("lookup of GET /accounts/1 allocates %v times, want 0", allocs)
	}
}

// A POST whose body's _method reaches a route that seals query parameters
// (here by its X-Original-URL path) has its header's query checked as the
// request's own is: a query other than the request's is refused, not
// forwarded in plaintext.
func TestRewriteHeaderQueryOfABodyMethodRoute(t *testing.T) {
	const fm = `
classes: {email: {mode: deterministic}}
routes:
  - {name: create, methods: [POST], paths: [/accounts], request: [{path: email, class: email}]}
  - {name: search, methods: [GET], paths: [/accounts], query: [{param: email, class: email}]}
`
	h := newHarness(t, nil, func(o *Options) { o.Routes = compileFieldMap(t, fm, "accounts.yaml") })
	resp, body := h.do(t, http.MethodPost, "/index.php", http.Header{"X-Original-Url": {"/accounts?email=ada@example.com"}, "Content-Type": {"application/json"}},
		strings.NewReader(`{"_method":"GET"}`))
	for _, r := range h.up.requests() {
		if v := r.Header.Get("X-Original-Url"); strings.Contains(v, "ada") {
			t.Errorf("upstream got X-Original-URL %q", v)
		}
	}
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid_query") {
		t.Errorf("POST /index.php with _method GET and X-Original-URL /accounts?email=: %d %s, want 400 invalid_query", resp.StatusCode, body)
	}
}
