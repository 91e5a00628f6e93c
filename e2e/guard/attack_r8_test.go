package guard_test

// Reproductions of the eighth attack on the guard: requests fieldseal and
// an application route differently by their path. Rails routes every
// resource as "/customers(.:format)" (and Grape, and Spring MVC up to 5.2
// with its default suffix pattern match, "/customers.*"), so
// "/customers.json" is the customers route to them and no route at all to
// fieldseal, which then seals class members only: a route's explicit
// paths, query parameters and response paths are skipped. And a _method
// name PHP cuts at NUL. Each holds once fixed. Not kept: of two routes
// whose patterns match one path, the more specific protects it
// ("/customers/me" over "/customers/{id}"), as the README says; an
// application that declares "/customers/:id" first never serves its "me"
// route. Nor a CPU-time reproduction of a quadratic _method loop (timing
// belongs in benchmarks: BenchmarkAddBodyRoutes).

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// railsFormat is the optional format suffix Rails adds to every route
// ("(.:format)"): a last segment's ".ext" with no dot or slash in ext.
var railsFormat = regexp.MustCompile(`\.[^./]+$`)

// railsPath returns the path Rails routes a request by: the path with its
// format suffix removed (Rails' default :format segment).
func railsPath(p string) string { return railsFormat.ReplaceAllString(p, "") }

// R8-1: a POST to "/customers.json" is the customers-write route to Rails
// (customers#create) and an unlisted path to fieldseal: contact.value,
// which only the route names, reaches the store in plaintext. The same for
// a PUT of "/customers/7/contact.json" (a nested route with a literal last
// segment) and Spring MVC's "/customers.do".
func TestAttackR8FormatSuffixSkipsTheRoute(t *testing.T) {
	const extra = `
  - name: contact-write
    methods: [PUT]
    paths: ["/customers/{id}/contact"]
    request: [ {path: value, class: secret} ]
`
	for _, c := range []struct{ method, path, routed, body string }{
		{"POST", "/customers.json", "/customers", `{"contact":{"value":"` + hidden + `"}}`},
		{"POST", "/customers.do", "/customers", `{"contact":{"value":"` + hidden + `"}}`},
		{"PUT", "/customers/7/contact.json", "/customers/7/contact", `{"value":"` + hidden + `"}`},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			a := newApp(t, anyTypeJSONApp)
			sc := startApp(t, a, extra)
			// The baseline: without the suffix the route seals the value.
			sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: c.method, Path: c.routed, JSON: c.body})
			r := sc.Do(t, sidecartest.Req{Method: c.method, Path: c.path, JSON: c.body})
			var routed []string
			for _, rc := range a.received() {
				u, _ := url.Parse(rc.URI)
				routed = append(routed, railsPath(u.Path))
			}
			t.Logf("%s %s -> %d %s; the application routed %q", c.method, c.path, r.Status, r.Body, routed)
			if len(routed) != 2 || routed[0] != routed[1] {
				t.Fatalf("the application routed %q, want both requests on %s", routed, c.routed)
			}
			a.mustNotHold(t, hidden)
		})
	}
}

// R8-2: a GET route's query parameter is sealed on "/accounts" but not on
// "/accounts.json", which Rails routes to the same search: the application
// looks the record up by (and logs) the plaintext e-mail, where the map
// says it only ever sees it sealed. With an override making the request
// the POST route first (R5-1's shape) it is the same.
func TestAttackR8FormatSuffixSkipsTheQuery(t *testing.T) {
	a := newApp(t, func(r *http.Request, _ []byte) []string {
		if railsPath(r.URL.Path) != "/accounts" {
			return nil
		}
		return r.URL.Query()["email"]
	})
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: createAndSearch})
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "GET", Path: "/accounts?email=" + url.QueryEscape(alice)})
	for _, h := range []map[string]string{nil, {"X-HTTP-Method-Override": "POST"}} {
		r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts.json?email=" + url.QueryEscape(alice), Header: h})
		t.Logf("GET /accounts.json?email= with %v -> %d %s", h, r.Status, r.Body)
	}
	a.mustNotHold(t, alice)
}

// R8-3: a response path a route opens for some callers and keeps sealed
// (or masks) for others is read on "/customers.json" by no route: a legacy
// plaintext value at that path, which the route would seal for a caller
// whose action for its class is sealed, reaches that caller as it is.
func TestAttackR8FormatSuffixSkipsTheResponse(t *testing.T) {
	const legacy = `[{"id":1,"contact":{"value":"` + legacyContact + `"}}]`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || railsPath(r.URL.Path) != "/customers" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(legacy))
	}))
	t.Cleanup(up.Close)
	const fm = `
classes:
  secret: { mode: random }
routes:
  - name: customers-list
    methods: [GET]
    paths: [/customers]
    response: [ {path: "#.contact.value", class: secret} ]
`
	iss := sidecartest.NewIssuer(t)
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: up.URL, FieldMap: fm + sealedReader + iss.AuthYAML("reader-app")})
	auth := map[string]string{"Authorization": "Bearer " + iss.Token(t, "reader-app", "")}
	plain := sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "GET", Path: "/customers", Header: auth})
	if strings.Contains(string(plain.Body), legacyContact) {
		t.Fatalf("GET /customers: %s, want contact.value sealed for this caller (the baseline)", plain.Body)
	}
	r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/customers.json", Header: auth})
	if strings.Contains(string(r.Body), legacyContact) {
		t.Errorf("GET /customers.json: %d %s: the caller read the legacy plaintext the route seals for it", r.Status, r.Body)
	}
}

// laravelRead reads a request as Laravel does: Symfony's Request::getMethod
// overrides a POST by X-HTTP-Method-Override, else by _method from the
// request bag (a JSON body's top level, which Laravel makes the request
// bag, or $_POST) and then from the query ($_GET), both filled by PHP's
// php_register_variable_ex, which ends a name at NUL (phpPost). It returns
// "method=" and the method, then what the route's handler reads of the body
// when that method is PUT (the update route).
func laravelRead(r *http.Request, body []byte) []string {
	method := r.Method
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if method == http.MethodPost {
		var m string
		lookup := func(pairs []string) {
			for _, p := range pairs {
				if v, ok := strings.CutPrefix(p, "_method="); ok && m == "" {
					m = v
				}
			}
		}
		if isJSONType(mt) {
			var doc map[string]any
			if json.Unmarshal(body, &doc) == nil {
				m, _ = doc["_method"].(string)
			}
		} else {
			lookup(phpPost(r, body))
		}
		if m == "" {
			lookup(phpPost(r, []byte(r.URL.RawQuery)))
		}
		if h := r.Header.Get("X-HTTP-Method-Override"); h != "" {
			m = h
		}
		if m != "" {
			method = strings.ToUpper(m)
		}
	}
	out := []string{"method=" + method}
	switch {
	case method != http.MethodPut:
	case isJSONType(mt):
		out = append(out, anyTypeJSONApp(r, body)...)
	default:
		out = append(out, phpPost(r, body)...)
	}
	return out
}

// R8-6: PHP ends a parameter name at a NUL byte, so "_method%00x=PUT", in
// the query or in a form body, is $_GET["_method"] or $_POST["_method"]
// to Laravel, whose Symfony Request makes the POST a PUT. fieldseal reads
// a _method name with PHP's leading spaces and '.', but not cut at NUL
// (fieldmap.isMethodParam; the guard's form reading of member names does
// cut it): the POST is its own route's alone, and the PUT route's
// contact.value reaches the update handler in plaintext, where the same
// request with "_method=PUT" is sealed (JSON) or refused (a form: 415).
func TestAttackR8PHPMethodNameCutAtNUL(t *testing.T) {
	a := newApp(t, laravelRead)
	sc := startApp(t, a, actionAndUpdate)
	form := map[string]string{"Content-Type": formType}
	// The baseline: a plain _method is read, and the PUT route seals or refuses.
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "POST", Path: "/accounts/1?_method=PUT", JSON: `{"contact":{"value":"` + hidden + `"}}`})
	sc.DoWant(t, http.StatusUnsupportedMediaType, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte("_method=PUT&contact%5Bvalue%5D=" + hidden)})
	a.mustNotHold(t, hidden)
	for _, q := range []sidecartest.Req{
		{Method: "POST", Path: "/accounts/1?_method%00x=PUT", JSON: `{"contact":{"value":"` + hidden + `"}}`},
		{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte("_method%00x=PUT&contact%5Bvalue%5D=" + hidden)},
	} {
		r := sc.Do(t, q)
		t.Logf("%s %s %s -> %d %s", q.Method, q.Path, q.Body, r.Status, r.Body)
	}
	for _, rc := range a.received() {
		t.Logf("Laravel read %s %s as %q", rc.Method, rc.URI, rc.Strings[0])
	}
	a.mustNotHold(t, hidden)
}
