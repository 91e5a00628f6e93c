package fieldmap

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/rewrite"
)

// lookup returns the route protecting a request: the first of LookupAll's
// Routes, or nil.
func lookup(m *Map, method, urlPath, escapedPath, rawQuery string, header func(string) []string) *Route {
	var f Found
	m.LookupAll(&f, method, urlPath, escapedPath, rawQuery, header)
	if len(f.Routes) == 0 {
		return nil
	}
	return f.Routes[0]
}

func TestLookup(t *testing.T) {
	m := loadQuickstart(t)
	tests := []struct {
		name, method, path string
		header             http.Header
		query              string
		route              string // "" means not protected
	}{
		{"a plain request matches its route", "POST", "/customers", nil, "", "customers-write"},
		{"a lower-case method is read in upper case", "post", "/customers", nil, "", "customers-write"},
		{"an empty path is the root", "POST", "", nil, "", ""},
		{"a doubled slash still matches", "POST", "//customers", nil, "", "customers-write"},
		{"a dot segment is resolved", "POST", "/x/../customers", nil, "", "customers-write"},
		{"a dot segment cannot climb above the root", "POST", "/../customers", nil, "", "customers-write"},
		{"a relative path is read from the root", "PUT", "customers/./7", nil, "", "customers-write"},
		{"a trailing slash still matches", "GET", "/customers/7/", nil, "", "customers-get"},
		{"a method override header replaces the method", "GET", "/customers", http.Header{"X-Http-Method-Override": {"POST"}}, "", "customers-write"},
		{"every override header is read", "GET", "/customers", http.Header{"X-Method-Override": {" patch "}}, "", "customers-write"},
		{"every override header is a reading, not only the first", "GET", "/customers", http.Header{"X-Http-Method-Override": {"DELETE"}, "X-Http-Method": {"POST"}}, "", "customers-write"},
		{"an unknown override does not hide the request's method", "POST", "/customers", http.Header{"X-Http-Method-Override": {"FOO"}}, "", "customers-write"},
		{"each method of a comma-separated override is a reading", "DELETE", "/customers/7", http.Header{"X-Http-Method-Override": {"OPTIONS, PUT"}}, "", "customers-write"},
		{"a _method query parameter is a reading", "DELETE", "/customers/7", nil, "_method=PUT", "customers-write"},
		{"a _method parameter after a pair that does not decode is read", "DELETE", "/customers/7", nil, "x=%zz&_method=PUT", "customers-write"},
		{"a _method parameter after a ';' is read", "DELETE", "/customers/7", nil, "a;b=1&_method=PUT", "customers-write"},
		{"a _method parameter ended by ';' is read", "DELETE", "/customers/7", nil, "_method=PUT;a=1", "customers-write"},
		{"an escaped _method name is read", "DELETE", "/customers/7", nil, "%5fmethod=P%55T", "customers-write"},
		{"PHP's reading of a _method name is read", "DELETE", "/customers/7", nil, "+.method=put", "customers-write"},
		{"another parameter is not a method", "DELETE", "/customers/7", nil, "x_method=PUT&_methods=PUT&_method%=PUT", ""},
		{"junk override values do not push _method out", "DELETE", "/customers/7", http.Header{"X-Http-Method-Override": {"A,B,C,D,E,F,G,H"}}, "_method=PUT", "customers-write"},
		{"every line of an override header is read", "DELETE", "/customers/7", http.Header{"X-Http-Method-Override": {"OPTIONS", "PUT"}}, "", "customers-write"},
		{"HEAD is read as GET", "HEAD", "/customers/7", nil, "", "customers-get"},
		{"an overriding HEAD is read as GET", "DELETE", "/customers/7", http.Header{"X-Http-Method": {"head"}}, "", "customers-get"},
		{"a backslash is a slash", "PUT", `/customers\7`, nil, "", "customers-write"},
		{"backslashes and dot segments", "PUT", `\x\..\customers\7`, nil, "", "customers-write"},
		{"servlet path parameters are removed", "POST", "/customers;jsessionid=ABC", nil, "", "customers-write"},
		{"a path parameter on a middle segment is removed", "GET", "/customers;v=1/7", nil, "", "customers-get"},
		{"an escaped slash keeps the id one segment", "PUT", "/customers/a/b", nil, "", ""},
		{"a format suffix is read away", "POST", "/customers.json", nil, "", "customers-write"},
		{"a format suffix after an id is read away", "PUT", "/customers/7.xml", nil, "", "customers-write"},
		{"an unlisted method is not protected", "DELETE", "/customers/7", nil, "", ""},
		{"an unlisted path is not protected", "GET", "/orders", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := lookup(m, tt.method, tt.path, "", tt.query, tt.header.Values)
			got := ""
			if r != nil {
				got = r.Name
			}
			if got != tt.route {
				t.Errorf("Lookup(%s %q) = %q, want %q", tt.method, tt.path, got, tt.route)
			}
		})
	}
}

func TestLookupDoesNotAllocateForCleanPaths(t *testing.T) {
	m := loadQuickstart(t)
	h := http.Header{"Content-Type": {"application/json"}}
	var rbuf, bbuf [4]*Route // as the proxy's request state holds them
	allocs := testing.AllocsPerRun(100, func() {
		for _, q := range [][4]string{
			{"GET", "/customers/42", "", ""},
			{"DELETE", "/orders/1/", "/orders/1/", "a=1"},
			{"PUT", "/customers/1", "", "page=2&sort=%5Bname%5D&x_method=GET"},
			{"POST", "/customers", "", ""},
		} {
			f := Found{Routes: rbuf[:0], ByBody: bbuf[:0]}
			m.LookupAll(&f, q[0], q[1], q[2], q[3], h.Values)
		}
	})
	if allocs != 0 {
		t.Errorf("LookupAll allocates %v times per run", allocs)
	}
}

func TestLookupReadsTheEscapedPath(t *testing.T) {
	m := loadQuickstart(t)
	// Decoded, /customers/a%2Fb is /customers/a/b: three segments, no route.
	if r := lookup(m, "PUT", "/customers/a/b", "/customers/a%2Fb", "", http.Header{}.Values); r == nil || r.Name != "customers-write" {
		t.Fatalf("escaped slash: %v", r)
	}
}

func TestLookupReadsEveryOverrideValue(t *testing.T) {
	m := loadQuickstart(t)
	junk := strings.Repeat("X,", 10000)
	h := http.Header{"X-Http-Method-Override": {junk, junk + "put"}, "X-Method-Override": {junk}}
	if r := lookup(m, "DELETE", "/customers/7", "", "", h.Values); r == nil || r.Name != "customers-write" {
		t.Fatalf("override after 20000 junk values: %v", r)
	}
}

func TestLookupReadsAnEscapedBackslash(t *testing.T) {
	m := loadQuickstart(t)
	for _, escaped := range []string{"/customers%5C7", "/customers%5c7"} {
		if r := lookup(m, "PUT", `/customers\7`, escaped, "", http.Header{}.Values); r == nil || r.Name != "customers-write" {
			t.Errorf("%s: %v", escaped, r)
		}
	}
}

func TestLookupReadsAPostAsAnyRouteAtItsPath(t *testing.T) {
	// A _method member of a POST body (Rack, Laravel) is out of LookupAll's
	// sight: a POST no POST route lists is looked up under the map's other
	// methods, the ones forms tunnel first; a POST route still wins.
	const spec = `classes: {secret: , email: }
routes:
  - name: account-read
    methods: [GET]
    paths: ["/accounts/{id}", "/orders/{id}"]
    response: [{path: contact.value, class: secret}]
  - name: account-update
    methods: [PUT]
    paths: ["/accounts/{id}"]
    request: [{path: contact.value, class: secret}]
  - name: order-create
    methods: [POST]
    paths: ["/orders/{id}"]
    request: [{path: email, class: email}]
`
	m := compileSpec(t, spec)
	none := func(string) []string { return nil }
	for _, tt := range []struct{ method, path, route string }{
		{"POST", "/accounts/1", "account-update"},
		{"post", "/accounts/1", "account-update"},
		{"POST", "/orders/1", "order-create"},
		{"DELETE", "/accounts/1", ""}, // only a POST is overridden by its body
		{"POST", "/users/1", ""},
	} {
		got := ""
		if r := lookup(m, tt.method, tt.path, "", "", none); r != nil {
			got = r.Name
		}
		if got != tt.route {
			t.Errorf("Lookup(%s %s) = %q, want %q", tt.method, tt.path, got, tt.route)
		}
	}
}

func TestIsMethodParamDecodesAsApplicationsDo(t *testing.T) {
	for name, want := range map[string]bool{
		"_method": true, "%5Fmethod": true, "%5fmethod": true, "_%6Dethod": true, ".method": true, "+method": false,
		"+_method": true, "%20%20.method": true, "_method+": false, "_method%": false, "_Method": true, "_METHOD": true, "%5FMETHOD": true, "method": false,
		"x_method": false, "_metho": false, "_methodd": false, "%5_method": false, "_method[]": true, "_method[0]": true, "[_method]": true, "_method]": true,
		"%5B_method%5D": true, "_me[thod": false, "x[_method]": false, "_method%00x": true, "_met%00hod": false, "": false,
	} {
		if got := isMethodParam(name); got != want {
			t.Errorf("isMethodParam(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestLookupAllListsEveryRouteAReadingReaches(t *testing.T) {
	// An application takes a request under one of its readings, fieldseal
	// cannot know which: LookupAll gives the protecting route first, then each
	// other route a reading of the method, headers, query or path reaches,
	// and apart the routes only a POST body's _method would reach.
	const spec = `classes: {secret: , email: {mode: deterministic}}
routes:
  - name: read
    methods: [GET]
    paths: ["/accounts/{id}"]
    response: [{path: contact.value, class: secret}]
  - name: action
    methods: [POST]
    paths: ["/accounts/{id}"]
    request: [{path: note, class: secret}]
  - name: update
    methods: [PUT, PATCH]
    paths: ["/accounts/{id}", "/accounts/{id}/contact"]
    request: [{path: contact.value, class: secret}]
  - name: search
    methods: [DELETE]
    paths: ["/accounts/{id}"]
    query: [{param: email, class: email}]
    response: [{path: contact.value, class: secret}]
  - name: note
    methods: [PUT]
    paths: ["/accounts/{id}/note"]
    request: [{path: text, class: secret}]
`
	m := compileSpec(t, spec)
	names := func(rs []*Route) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Name)
		}
		return strings.Join(s, " ")
	}
	for _, tt := range []struct {
		method, path, query string
		header              http.Header
		routes, byBody      string
	}{
		{"GET", "/accounts/1", "", nil, "read", ""},
		{"PUT", "/accounts/1", "", nil, "update", ""},
		{"POST", "/accounts/1", "", nil, "action", "update search read"},
		{"POST", "/accounts/1", "_method=PUT", nil, "update action", "search read"},
		{"POST", "/accounts/1", "_method=PUT", http.Header{"X-Http-Method-Override": {"POST"}}, "action update", "search read"},
		{"GET", "/accounts/1", "", http.Header{"X-Http-Method": {"PATCH"}}, "update read", ""},
		{"POST", "/accounts/1/note", "", nil, "note", ""},
		{"DELETE", "/users/1", "", nil, "", ""},
		{"POST", "/users/1", "", nil, "", ""},
	} {
		var rbuf, bbuf [4]*Route
		f := Found{Routes: rbuf[:0], ByBody: bbuf[:0]}
		m.LookupAll(&f, tt.method, tt.path, "", tt.query, tt.header.Values)
		if names(f.Routes) != tt.routes || names(f.ByBody) != tt.byBody {
			t.Errorf("LookupAll(%s %s?%s %v) = %q and by body %q, want %q and %q", tt.method, tt.path, tt.query, tt.header, names(f.Routes), names(f.ByBody), tt.routes, tt.byBody)
		}
	}
	// Decoded, a%2Fnote is two segments (the note route), as sent one (an
	// account id).
	var rbuf, bbuf [4]*Route
	f := Found{Routes: rbuf[:0], ByBody: bbuf[:0]}
	m.LookupAll(&f, "PUT", "/accounts/a/note", "/accounts/a%2Fnote", "", http.Header{}.Values)
	if names(f.Routes) != "note update" {
		t.Errorf("LookupAll(PUT /accounts/a%%2Fnote) = %q, want note and update", names(f.Routes))
	}
	for method, want := range map[string]string{"patch": "update", " PUT ": "update", "HEAD": "read", "DELETE": "search", "FOO": ""} {
		var r *Route
		if rs := m.LookupMethod(nil, method, "/accounts/1", "", http.Header{}.Values); len(rs) > 0 {
			r = rs[0]
		}
		if names([]*Route{r}[:btoi(r != nil)]) != want {
			t.Errorf("LookupMethod(%q) = %v, want %q", method, r, want)
		}
	}
	none := http.Header{}.Values
	if allocs := testing.AllocsPerRun(100, func() {
		f := Found{Routes: rbuf[:0], ByBody: bbuf[:0]}
		m.LookupAll(&f, "POST", "/accounts/1", "", "", none)
	}); allocs != 0 {
		t.Errorf("LookupAll allocates %v times per run with room in f", allocs)
	}
}

func TestSameMethodReadsAsUpcaseDoes(t *testing.T) {
	for _, tt := range []struct {
		v, known string
		want     bool
	}{
		{"put", "PUT", true}, {"Patch", "PATCH", true}, {"optıons", "OPTIONS", true}, {"lınk", "LINK", true},
		{"PUTT", "PUT", false}, {"GET ", "GET", false},
	} {
		if got := sameMethod(tt.v, tt.known); got != tt.want {
			t.Errorf("sameMethod(%q, %q) = %v, want %v", tt.v, tt.known, got, tt.want)
		}
	}
}

func TestFormatStemsReadRailsAndSpringFormats(t *testing.T) {
	for p, want := range map[string][2]string{
		"/customers.json":     {"/customers", "/customers"},
		"/customers.json.bak": {"/customers.json", "/customers"},
		"/a/b.c.json":         {"/a/b.c", "/a/b"},
		"/a/7.":               {"/a/7", "/a/7"}, // Spring's "/a/7.*" takes an empty suffix
		"/customers..":        {"/customers.", "/customers"},
		"/a/.hidden":          {}, "/a.b/c": {}, "/": {},
		"/a/.x.json": {"/a/.x", "/a/.x"},
	} {
		last, first, ok := formatStems(p)
		if ok != (want[0] != "") || last != want[0] || first != want[1] {
			t.Errorf("formatStems(%q) = %q, %q, %v; want %q", p, last, first, ok, want)
		}
	}
}

func TestPathReadingsOfJavaAndRewriteHeaders(t *testing.T) {
	if !rewrite.EqualFold("prof\u0131les", "profiles") || !rewrite.EqualFold("PROF\u0130LES", "profiles") || rewrite.EqualFold("profles", "profiles") {
		t.Error("rewrite.EqualFold does not read the dotted and dotless I as Java's equalsIgnoreCase does")
	}
	for v, want := range map[string]string{
		"/customers?x=1":                    "/customers",
		"http://host/customers":             "/customers",
		"//host/customers":                  "/customers",
		"HTTPS://host:8443/customers?x=1#f": "/customers",
		";x":                                "/", // nothing left once its parameters go
	} {
		if got := rewritePaths(nil, v); !slices.Contains(got, want) {
			t.Errorf("rewritePaths(%q) = %q, want it to hold %q", v, got, want)
		}
	}
}

// Each X-Original-URL line adds its own readings only: the readings
// already found (the request's, another line's) are not read again, so a
// request with many lines costs each line once.
func TestRewriteLinesAreReadOnce(t *testing.T) {
	got := rewritePaths([]string{"/a;x/b.json"}, "/c")
	if want := []string{"/a;x/b.json", "/c"}; !slices.Equal(got, want) {
		t.Errorf("rewritePaths after the request's path = %q, want %q", got, want)
	}
}

// BenchmarkLookupAllRewriteLines looks up a request with n distinct
// X-Original-URL lines: the cost per line stays flat as n grows.
func BenchmarkLookupAllRewriteLines(b *testing.B) {
	m := loadQuickstart(b)
	for _, n := range []int{100, 1000} {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = "/x" + strconv.Itoa(i) + ";a/y.json"
		}
		header := func(name string) []string {
			if name == "X-Original-Url" {
				return vs
			}
			return nil
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				var f Found
				m.LookupAll(&f, "GET", "/customers/1", "", "", header)
			}
		})
	}
}

// FuzzLookupAll: no request, however its method, path, query and headers
// are spelt, makes LookupAll panic, and the route it finds first is one a
// reading of the request reaches (Routes[0] is a route of the map).
func FuzzLookupAll(f *testing.F) {
	for _, seed := range [][5]string{
		{"POST", "/customers", "", "", ""},
		{"post", "/customers.json.bak", "/customers.json.bak", "_method[]=PUT", "/customers;x"},
		{"GET", `\customers\7`, "%5Ccustomers%5C7", "%5F%4Dethod=put&x=%zz", "http://h/customers/7?x=1"},
		{"PATCH", "", "", "+.method=lınk", ";x"},
		{"HEAD", "/customers/..;/7.", "", "", "//host"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}
	m := loadQuickstart(f)
	names := map[*Route]bool{}
	for _, r := range m.Routes() {
		names[r] = true
	}
	f.Fuzz(func(t *testing.T, method, path, escaped, query, rewrite string) {
		h := http.Header{"X-Http-Method-Override": {method}, "X-Original-Url": {rewrite}}
		var fnd Found
		m.LookupAll(&fnd, method, path, escaped, query, h.Values)
		for _, r := range append(fnd.Routes, fnd.ByBody...) {
			if !names[r] {
				t.Fatalf("LookupAll found %v, not a route of the map", r)
			}
		}
	})
}
