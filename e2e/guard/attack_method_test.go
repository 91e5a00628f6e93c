package guard_test

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// expressOverride models Express + method-override: methodOverride('_method')
// reads the query, methodOverride('X-HTTP-Method-Override') takes the first
// comma-separated value; both only override POST. It returns the body's
// contact.value when the app routes the request to PUT /customers/{id}.
func expressOverride(r *http.Request, body []byte) []string {
	m := r.Method
	if m == "POST" {
		if q := r.URL.Query().Get("_method"); q != "" {
			m = strings.ToUpper(q)
		} else if h := r.Header.Get("X-HTTP-Method-Override"); h != "" {
			m = strings.ToUpper(strings.TrimSpace(strings.Split(h, ",")[0]))
		}
	}
	var v struct{ Contact struct{ Value string } }
	_ = json.Unmarshal(body, &v)
	if m == "PUT" && strings.HasPrefix(strings.ToLower(r.URL.Path), "/customers/") {
		return []string{v.Contact.Value}
	}
	return nil
}

var putOnly = accountsRoute("customers-update", "PUT", "request: [ {path: contact.value, class: secret} ]")

// F8: Lookup reads override headers whole and never the _method parameter.
func TestAttackMethodOverrideReadings(t *testing.T) {
	a := newApp(t, accountsAsCustomers)
	sc := startApp(t, a, putOnly)
	body := `{"contact":{"value":"` + hidden + `"}}`
	for _, q := range []sidecartest.Req{
		{Method: "POST", Path: "/accounts/1?_method=PUT", JSON: body},
		{Method: "POST", Path: "/accounts/1", Header: map[string]string{"X-HTTP-Method-Override": "PUT, POST"}, JSON: body},
		{Method: "PUT", Path: "/accounts/1", JSON: body}, // control: sealed
	} {
		r := sc.Do(t, q)
		t.Logf("%s %s %v -> %d", q.Method, q.Path, q.Header, r.Status)
	}
	a.mustNotHold(t, hidden)
}

// bodyOverride models Rack::MethodOverride (Rails, Sinatra: a "_method"
// field of a form POST) and Laravel (Symfony's _method read from the input
// bag, which Laravel fills from a JSON body too). It returns the strings of
// the body when the app routes the request to PUT /accounts/{id}.
func bodyOverride(r *http.Request, body []byte) []string {
	m := r.Method
	var strs []string
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		vals, _ := url.ParseQuery(string(body))
		if o := vals.Get("_method"); m == "POST" && o != "" {
			m = strings.ToUpper(o)
		}
		for k, vs := range vals {
			strs = append(append(strs, k), vs...)
		}
	} else {
		var v map[string]any
		_ = json.Unmarshal(body, &v)
		if o, _ := v["_method"].(string); m == "POST" && o != "" {
			m = strings.ToUpper(o)
		}
		strs = jsonStrings(nil, v)
	}
	if m == "PUT" && strings.HasPrefix(r.URL.Path, "/accounts/") {
		return strs
	}
	return nil
}

// Lookup reads the method from override headers and the _method query
// parameter, never from the body, where Rack and Laravel read it: a POST
// to a PUT-only route carrying _method=PUT is on no route to fieldseal,
// and the route-only path contact.value passes in plaintext.
func TestAttackR4MethodOverrideInBody(t *testing.T) {
	a := newApp(t, bodyOverride)
	sc := startApp(t, a, putOnly)
	for _, q := range []sidecartest.Req{
		{Method: "POST", Path: "/accounts/1", JSON: `{"_method":"PUT","contact":{"value":"` + hidden + `"}}`},
		{Method: "POST", Path: "/accounts/1", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			Body: []byte("_method=PUT&contact%5Bvalue%5D=" + hidden)},
	} {
		r := sc.Do(t, q)
		t.Logf("%s %s -> %d %s", q.Method, q.Path, r.Status, r.Body)
	}
	a.mustNotHold(t, hidden)
}

// accountsAsCustomers is expressOverride on an application that serves
// /accounts/{id} as /customers/{id}.
func accountsAsCustomers(r *http.Request, body []byte) []string {
	r.URL.Path = strings.Replace(r.URL.Path, "/accounts/", "/customers/", 1)
	return expressOverride(r, body)
}

// Lookup reads the _method query parameter only when the whole query
// parses (url.ParseQuery returns an error for one bad escape or a ";"),
// while Express's qs keeps every other pair: POST /accounts/1?x=%zz&_method=PUT
// is PUT to the app and on no route to fieldseal.
func TestAttackR4MethodQueryWithBadPair(t *testing.T) {
	a := newApp(t, accountsAsCustomers)
	sc := startApp(t, a, putOnly)
	body := `{"contact":{"value":"` + hidden + `"}}`
	for _, path := range []string{"/accounts/1?x=%zz&_method=PUT", "/accounts/1?a;b=1&_method=PUT"} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: path, JSON: body})
		t.Logf("POST %s -> %d %s", path, r.Status, r.Body)
	}
	for _, rc := range a.received() {
		t.Logf("app got %s %s", rc.Method, rc.URI)
	}
	a.mustNotHold(t, hidden)
}

// Lookup keeps at most six override readings, headers first: six junk
// values in X-HTTP-Method-Override push the _method query parameter out,
// and an app overriding from the query (methodOverride('_method'), Rails)
// reads PUT.
func TestAttackR4MethodReadingsCapped(t *testing.T) {
	a := newApp(t, accountsAsCustomers)
	sc := startApp(t, a, putOnly)
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1?_method=PUT", Header: map[string]string{"X-HTTP-Method-Override": "A,B,C,D,E,F"},
		JSON: `{"contact":{"value":"` + hidden + `"}}`})
	t.Logf("-> %d %s", r.Status, r.Body)
	a.mustNotHold(t, hidden)
}

// Lookup reads the first field line of each override header; behind nginx,
// PHP-FPM keeps the last of two lines with the same name, and Symfony and
// Laravel then take it whole as the method. Two X-HTTP-Method-Override
// lines (GET, then PUT) route a POST to the PUT-only route unseen.
func TestAttackR4MethodOverrideSecondLine(t *testing.T) {
	a := newApp(t, func(r *http.Request, b []byte) []string {
		vs := r.Header.Values("X-Http-Method-Override")
		if r.Method != "POST" || len(vs) == 0 || vs[len(vs)-1] != "PUT" || !strings.HasPrefix(r.URL.Path, "/accounts/") {
			return nil
		}
		return anyTypeJSONApp(r, b)
	})
	sc := startApp(t, a, putOnly)
	req, err := http.NewRequest("POST", sc.URL+"/accounts/1", strings.NewReader(`{"contact":{"value":"`+hidden+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("X-HTTP-Method-Override", "GET")
	req.Header.Add("X-HTTP-Method-Override", "PUT")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	t.Logf("-> %d", resp.StatusCode)
	a.mustNotHold(t, hidden)
}

// backslashApp routes as IIS/ASP.NET do, reading "\" in the decoded path as
// "/", and decodes the JSON body of PUT /customers/{id}.
func backslashApp(r *http.Request, body []byte) []string {
	p := strings.ReplaceAll(r.URL.Path, `\`, "/")
	if !strings.HasPrefix(strings.ToLower(p), "/customers/") {
		return nil
	}
	return anyTypeJSONApp(r, body)
}

// A path that reaches /customers/{id} only once "\" is read as "/" is on
// no route to fieldseal: the route-only path contact.value (a class with
// no keys) passes in plaintext.
func TestAttackR4BackslashPath(t *testing.T) {
	a := newApp(t, backslashApp)
	sc := startApp(t, a, "")
	for _, path := range []string{`/customers%5C1`, `/customers\1`} {
		r := sc.Do(t, sidecartest.Req{Method: "PUT", Path: path, JSON: `{"contact":{"value":"` + hidden + `"}}`})
		t.Logf("%s -> %d %s", path, r.Status, r.Body)
	}
	a.mustNotHold(t, hidden)
}

// postAndPut has a POST route and a PUT route on one path that seal
// different paths, the PUT one in the record's context: an application
// may take a POST to that path under either (Rack and Laravel read a
// _method member of the body, Express only the query or a header, others
// none). putAndPatch has a PUT and a PATCH route there and no POST route.
var (
	postAndPut = accountsRoute("accounts-action", "POST", "request: [ {path: note, class: secret} ]") +
		accountsRoute("accounts-update", "PUT", "context: { path_param: id }", "request: [ {path: contact.value, class: secret} ]") +
		accountsRoute("accounts-read", "GET", "context: { path_param: id }", "response: [ {path: contact.value, class: secret} ]")
	putAndPatch = accountsRoute("accounts-replace", "PUT", "request: [ {path: note, class: secret} ]") +
		accountsRoute("accounts-patch", "PATCH", "request: [ {path: contact.value, class: secret} ]")
)

// A request whose readings reach several routes (a POST route shadowing a
// _method=PUT in the body or the query, a header saying POST and the query
// PUT, the POST fallback finding the PUT route while the body says PATCH)
// is sealed under every one of them, so whichever the application takes it
// stores no plaintext of that route's paths; each route's values are
// sealed for its own context (the PUT route's value opens through the GET
// route of the same record). A form there is refused, as the PUT route
// alone refuses forms (its paths name JSON values).
func TestAttackOverrideReachesSeveralRoutes(t *testing.T) {
	const note = "n0te-in-clear"
	body := `{"_method":"PUT","note":"` + note + `","contact":{"value":"` + hidden + `"}}`
	for _, c := range []struct {
		name, routes string
		req          sidecartest.Req
	}{
		{"body _method past a POST route", postAndPut, sidecartest.Req{Method: "POST", Path: "/accounts/1", JSON: body}},
		{"query _method past a POST route", postAndPut, sidecartest.Req{Method: "POST", Path: "/accounts/1?_method=PUT", JSON: body}},
		{"header POST, query PUT", postAndPut, sidecartest.Req{Method: "POST", Path: "/accounts/1?_method=PUT",
			Header: map[string]string{"X-HTTP-Method-Override": "POST"}, JSON: body}},
		{"body _method PATCH past the PUT fallback", putAndPatch, sidecartest.Req{Method: "POST", Path: "/accounts/1",
			JSON: strings.Replace(body, `"PUT"`, `"PATCH"`, 1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newApp(t, anyTypeJSONApp)
			store := newEchoStore(t, a)
			sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.srv.URL, FieldMap: fieldMap + c.routes})
			if r := sc.Do(t, c.req); r.Status != http.StatusOK {
				t.Fatalf("%s %s: %d %s, want 200 (sealed under both routes)", c.req.Method, c.req.Path, r.Status, r.Body)
			}
			a.mustNotHold(t, hidden, note)
			var stored struct {
				Note    string
				Contact struct{ Value string }
			}
			if err := json.Unmarshal(store.stored(), &stored); err != nil || !strings.HasPrefix(stored.Note, "fs1:") || !strings.HasPrefix(stored.Contact.Value, "fs1:") {
				t.Fatalf("app received %s (%v), want note and contact.value sealed", store.stored(), err)
			}
			if c.routes != postAndPut {
				return
			}
			// The value sealed for the PUT route opens where that route's
			// records are read: in the record's context.
			r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1"})
			if !strings.Contains(string(r.Body), `"value":"`+hidden+`"`) {
				t.Errorf("GET /accounts/1 through the sidecar: %d %s, want contact.value opened", r.Status, r.Body)
			}
		})
	}
	a := newApp(t, bodyOverride)
	sc := startApp(t, a, postAndPut)
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		Body: []byte("_method=PUT&contact%5Bvalue%5D=" + hidden)})
	if r.Status != http.StatusUnsupportedMediaType || len(a.received()) != 0 {
		t.Errorf("form with _method=PUT: %d %s, app received %d requests; want 415 and none", r.Status, r.Body, len(a.received()))
	}
	// A multipart body streams before its _method part is read: refused
	// where a _method could make it a route that seals request values.
	const mp = "--B\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nPUT\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"contact[value]\"\r\n\r\n" + hidden + "\r\n--B--\r\n"
	r = sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: map[string]string{"Content-Type": "multipart/form-data; boundary=B"}, Body: []byte(mp)})
	if r.Status != http.StatusUnsupportedMediaType || len(a.received()) != 0 {
		t.Errorf("multipart with _method=PUT: %d %s, app received %d requests; want 415 and none", r.Status, r.Body, len(a.received()))
	}
	// Without any _method, a POST is the POST route's alone.
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "POST", Path: "/accounts/1", JSON: `{"contact":{"value":"plain"}}`})
	if got := a.received(); len(got) != 1 || !strings.Contains(string(got[0].Body), `"value":"plain"`) {
		t.Errorf("plain POST reached the app as %v, want contact.value as sent (the POST route does not name it)", got)
	}
}

// createAndSearch has a POST route and a GET route on /accounts, the GET one
// sealing its e-mail query parameter.
const createAndSearch = `
classes:
  email: { mode: deterministic, keys: [email] }
routes:
  - name: accounts-create
    methods: [POST]
    paths: [/accounts]
    request: [ {path: contact.value, class: email} ]
  - name: accounts-search
    methods: [GET]
    paths: [/accounts]
    query: [ {param: email, class: email} ]
    response: [ {path: contact.value, class: email} ]
`

// A GET overridden to POST reaches the POST route first and the GET route
// that seals a query parameter by its method: an application that ignores
// the override looks the record up by the parameter, which must reach it
// sealed, as a plain GET's does.
func TestAttackOverrideReachesAQueryRoute(t *testing.T) {
	a := newApp(t, func(r *http.Request, _ []byte) []string { return r.URL.Query()["email"] })
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: createAndSearch})
	for _, h := range []map[string]string{{"X-HTTP-Method-Override": "POST"}, nil} {
		if r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts?email=" + url.QueryEscape(alice), Header: h}); r.Status != http.StatusOK {
			t.Fatalf("GET /accounts?email= with %v: %d %s", h, r.Status, r.Body)
		}
	}
	a.mustNotHold(t, alice)
	got := a.received()
	if len(got) != 2 || len(got[0].Strings) != 1 || got[0].Strings[0] != got[1].Strings[0] {
		t.Errorf("the overridden and the plain lookup reached the app as %v, want the same sealed value", got)
	}
}

// A request read under two routes is counted once per value: the second
// route's pass over what the first sealed or opened does not count those
// values again (as kept, or as legacy plaintext).
func TestSeveralRoutesCountEachValueOnce(t *testing.T) {
	routes := accountsRoute("accounts-patch", "PATCH", "request: [ {path: contact.value, class: secret} ]", "response: [ {path: contact.value, class: secret} ]") +
		accountsRoute("accounts-read", "GET", "request: [ {path: contact.value, class: secret} ]", "response: [ {path: contact.value, class: secret} ]")
	store := newEchoStore(t, nil)
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.srv.URL, FieldMap: fieldMap + routes})
	// Read as GET first, then as PATCH, both ways.
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "PATCH", Path: "/accounts/1", Header: map[string]string{"X-HTTP-Method-Override": "GET"},
		JSON: `{"contact":{"value":"` + hidden + `"}}`})
	r := sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "GET", Path: "/accounts/1", Header: map[string]string{"X-HTTP-Method-Override": "PATCH"}})
	if !strings.Contains(string(r.Body), `"value":"`+hidden+`"`) {
		t.Fatalf("GET /accounts/1 overridden to PATCH: %s, want contact.value opened", r.Body)
	}
	for _, c := range []struct {
		op, result string
		want       float64
	}{
		{"seal", "ok", 1}, {"open", "ok", 1}, {"keep", "already_sealed", 0}, {"keep", "legacy", 0},
	} {
		if got := sc.Metric(t, "fieldseal_proxy_fields_total", map[string]string{"class": "secret", "op": c.op, "result": c.result}); got != c.want {
			t.Errorf("fieldseal_proxy_fields_total{class=secret,op=%s,result=%s} = %v, want %v", c.op, c.result, got, c.want)
		}
	}
}

// Class members are sealed in the context of the route that protects the
// request; when another route the request may take binds another context,
// they would not open where that route's records are read: the request is
// refused (400 ambiguous_route), JSON or form, and nothing is stored. A
// plain POST is its own route's alone.
func TestSeveralRoutesInOtherContextsRefuseClassMembers(t *testing.T) {
	routes := accountsRoute("accounts-action", "POST", "response: [ {path: note, class: secret} ]") +
		accountsRoute("accounts-update", "PUT", "context: { header: X-Tenant }", "response: [ {path: contact.value, class: secret} ]")
	a := newApp(t, anyTypeJSONApp)
	sc := startApp(t, a, routes)
	tenant := map[string]string{"X-Tenant": "t1"}
	for _, q := range []sidecartest.Req{
		{Method: "POST", Path: "/accounts/1?_method=PUT", Header: tenant, JSON: `{"email":"` + alice + `"}`},
		{Method: "POST", Path: "/accounts/1?_method=PUT", Header: map[string]string{"X-Tenant": "t1", "Content-Type": formType},
			Body: []byte("email=" + url.QueryEscape(alice))},
	} {
		r := sc.Do(t, q)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"ambiguous_route"`) {
			t.Errorf("%s %s %v: %d %s, want 400 ambiguous_route", q.Method, q.Path, q.Header, r.Status, r.Body)
		}
	}
	if n := len(a.received()); n != 0 {
		t.Fatalf("app received %d requests, want none", n)
	}
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "POST", Path: "/accounts/1", JSON: `{"email":"` + alice + `"}`})
	a.mustNotHold(t, alice)
}

// A value sealed whole holding a class member is sealed under its own
// class once the member inside is sealed under the member's, and opens
// back to the document sent: the outer value's AAD is its class's, not
// the member's that was set last.
func TestValueSealedWholeWithAMemberInsideOpens(t *testing.T) {
	store := newEchoStore(t, nil)
	routes := accountsRoute("accounts-update", "PUT", "request: [ {path: contact, class: secret} ]") +
		accountsRoute("accounts-read", "GET", "response: [ {path: contact, class: secret} ]")
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.srv.URL, FieldMap: fieldMap + routes})
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "PUT", Path: "/accounts/1", JSON: `{"contact":{"email":"` + alice + `","kind":"home"}}`})
	if s := string(store.stored()); strings.Contains(s, alice) || strings.Contains(s, "home") {
		t.Fatalf("stored %s, want contact sealed whole", s)
	}
	r := sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "GET", Path: "/accounts/1"})
	if !strings.Contains(string(r.Body), `"email":"`+alice+`"`) || !strings.Contains(string(r.Body), `"kind":"home"`) {
		t.Errorf("GET /accounts/1: %s, want contact opened with its email", r.Body)
	}
}
