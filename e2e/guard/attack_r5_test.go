package guard_test

// Reproductions of the fifth attack on the guard, on a request sealed under
// every route its readings reach (fieldmap.Map.LookupAll, proxy/routes.go).
// Each held once fixed: the second pass opens what its route names, only
// explicit readings and a POST body's _method add routes, responses are
// opened under every route, and a value two routes seal differently is
// refused.

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// forgedSealed returns a string that is a well-formed sealed value
// (crypto.WellFormed: the prefix, an AES-SIV header, a 16-byte "tag") whose
// "ciphertext" is plaintext itself: it opens under no key, and anyone who
// reads the store reads plaintext by decoding base64.
func forgedSealed(plaintext string) string {
	raw := append([]byte{2, 1, 0, 0, 0, 1}, make([]byte, 16)...) // alg AES-SIV, type string, key id 1, tag
	raw = append(raw, plaintext...)
	return "fs1:" + base64.RawURLEncoding.EncodeToString(raw)
}

// decodeForged returns what a store reader reads from every fs1: value of
// vs by decoding its base64 (nothing for a real sealed value: random bytes).
func decodeForged(vs []string) []string {
	var out []string
	for _, v := range vs {
		if b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v, "fs1:")); err == nil && strings.HasPrefix(v, "fs1:") {
			out = append(out, string(b))
		}
	}
	return out
}

// R5-1: the second pass keeps every well-formed sealed value of the query
// unopened, trusting the first pass to have checked it; but the first
// route names no query parameter, so its pass never looks at the query.
// A GET overridden to POST reaches the POST route first and the GET route's
// query parameter second: a forged "sealed" e-mail (plaintext in base64,
// opening under no key) reaches the application, where the same GET without
// the override is refused (a caller may not send sealed values, and this
// one does not open).
func TestAttackR5QueryForgedSealedPastFirstRoute(t *testing.T) {
	a := newApp(t, func(r *http.Request, _ []byte) []string { return decodeForged(r.URL.Query()["email"]) })
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: createAndSearch})
	path := "/accounts?email=" + url.QueryEscape(forgedSealed(alice))
	plain := sc.Do(t, sidecartest.Req{Method: "GET", Path: path})
	if plain.Status < 400 || plain.Status >= 500 {
		t.Fatalf("GET with a forged sealed email: %d %s, want a 4xx (the baseline this attack bypasses)", plain.Status, plain.Body)
	}
	over := sc.Do(t, sidecartest.Req{Method: "GET", Path: path, Header: map[string]string{"X-HTTP-Method-Override": "POST"}})
	if over.Status < 400 || over.Status >= 500 {
		t.Errorf("GET with a forged sealed email, overridden to POST: %d %s, want a 4xx as without the override", over.Status, over.Body)
	}
	a.mustNotHold(t, alice)
}

// R5-1b: the same through a query filter of the second route, and through
// a query parameter the first route does not name while it names another.
func TestAttackR5QueryForgedSealedOtherParam(t *testing.T) {
	const fm = `
classes:
  email: { mode: deterministic, keys: [email] }
  phone: { mode: deterministic, keys: [phone] }
routes:
  - name: accounts-create
    methods: [POST]
    paths: [/accounts]
    query: [ {param: phone, class: phone} ]
    response: [ {path: contact.value, class: phone} ]
  - name: accounts-search
    methods: [GET]
    paths: [/accounts]
    query: [ {param: email, class: email}, {param: filter, member: email, class: email} ]
    response: [ {path: contact.value, class: email} ]
`
	a := newApp(t, func(r *http.Request, _ []byte) []string {
		out := decodeForged(r.URL.Query()["email"])
		f := r.URL.Query().Get("filter")
		if i := strings.Index(f, "'"); i >= 0 {
			out = append(out, decodeForged([]string{strings.Trim(f[i:], "'")})...)
		}
		return out
	})
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: fm})
	for _, path := range []string{
		"/accounts?phone=1&email=" + url.QueryEscape(forgedSealed(alice)),
		"/accounts?filter=" + url.QueryEscape("email='"+forgedSealed(alice)+"'"),
	} {
		plain := sc.Do(t, sidecartest.Req{Method: "GET", Path: path})
		over := sc.Do(t, sidecartest.Req{Method: "GET", Path: path, Header: map[string]string{"X-HTTP-Method-Override": "POST"}})
		if plain.Status < 400 || plain.Status >= 500 || over.Status < 400 || over.Status >= 500 {
			t.Errorf("GET %s: %d plain, %d overridden to POST (%s); want a 4xx for both", path, plain.Status, over.Status, over.Body)
		}
	}
	a.mustNotHold(t, alice)
}

// laravelOverride models Laravel (and Symfony with the method parameter
// enabled): a POST's method is the _method member of its JSON body. A GET
// of an account answers its stored record, whose contact.value predates
// fieldseal (legacy plaintext); anything else answers {"ok":true}.
func laravelOverride(store string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := r.Method
		if m == http.MethodPost {
			var v struct {
				Method string `json:"_method"`
			}
			if json.NewDecoder(r.Body).Decode(&v) == nil && v.Method != "" {
				m = strings.ToUpper(v.Method)
			}
		}
		answerAs(w, r, m, store)
	}
}

// answerAs answers r as an application that took it as method: a GET of
// an account with record, anything else with {"ok":true}.
func answerAs(w http.ResponseWriter, r *http.Request, method, record string) {
	w.Header().Set("Content-Type", "application/json")
	if method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/accounts/") {
		_, _ = io.WriteString(w, record)
		return
	}
	_, _ = io.WriteString(w, `{"ok":true}`)
}

// R5-2: the response is opened under the first route only. A POST whose
// JSON body says _method=GET is the GET route to Laravel, which answers the
// record; fieldseal opens the answer under the POST route, which names no
// response path, so legacy plaintext at the GET route's response path
// reaches a caller whose action for the class is sealed, where the plain
// GET seals it for that caller.
func TestAttackR5ResponseUnderFirstRouteOnly(t *testing.T) {
	sc, auth := legacyReader(t, laravelOverride(legacyRecord), "request: [ {path: note, class: secret} ]", "")
	over := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: auth, JSON: `{"_method":"GET"}`})
	if strings.Contains(string(over.Body), legacyContact) {
		t.Errorf("POST /accounts/1 {_method: GET}: %d %s: the caller read legacy plaintext the GET route seals for it", over.Status, over.Body)
	}
}

// legacyContact is a contact.value stored before fieldseal, in plaintext,
// in legacyRecord, the account an application answers a GET with.
const (
	legacyContact = "legacy-plain-contact"
	legacyRecord  = `{"id":1,"contact":{"value":"` + legacyContact + `"}}`
)

// legacyReader starts a sidecar in front of up with a POST route (whose
// side is postSide) and a GET route, which opens contact.value, on
// /accounts/{id}, for a caller whose action for the class is sealed; the
// GET route binds its context to the header readContext unless it is "".
// It checks the baseline (a plain GET of an account, with the header set
// and without it, never hands that caller its legacy contact.value in
// plaintext) and returns the sidecar and the caller's Authorization header.
func legacyReader(t *testing.T, up http.Handler, postSide, readContext string) (*sidecartest.Sidecar, map[string]string) {
	t.Helper()
	read := []string{"response: [ {path: contact.value, class: secret} ]"}
	if readContext != "" {
		read = append(read, "context: { header: "+readContext+" }")
	}
	fm := "\nclasses:\n  secret: { mode: random }\nroutes:" +
		accountsRoute("accounts-action", "POST", postSide) + accountsRoute("accounts-read", "GET", read...) + sealedReader
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	iss := sidecartest.NewIssuer(t)
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: srv.URL, FieldMap: fm + iss.AuthYAML("reader-app")})
	auth := map[string]string{"Authorization": "Bearer " + iss.Token(t, "reader-app", "")}
	baselines := []map[string]string{auth}
	if readContext != "" {
		baselines = append(baselines, map[string]string{"Authorization": auth["Authorization"], readContext: "t1"})
	}
	for _, h := range baselines {
		plain := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1", Header: h})
		if strings.Contains(string(plain.Body), legacyContact) || readContext == "" && plain.Status != http.StatusOK {
			t.Fatalf("GET /accounts/1 %v: %d %s, want contact.value sealed for this caller or the GET refused (the baseline)", h, plain.Status, plain.Body)
		}
	}
	return sc, auth
}

// R5-3 and R5-5: a POST was read as every other method of its path (a
// _method member of the body), so a plain POST, with no override at all,
// was sealed under the PUT route of its path too. When the POST route
// seals contact whole and the PUT route contact.value, the second pass met
// the string the first made where it expects an object, and when the PUT
// route binds a header the POST route does not, a POST without it was
// refused: every POST of an ordinary client failed. A POST with no
// _method is the POST route's alone.
func TestAttackR5PlainPostIsItsOwnRoutes(t *testing.T) {
	for _, c := range []struct{ name, post, put, putContext, body string }{
		{"the PUT route seals inside what the POST route seals whole", "contact", "contact.value", "", `{"name":"ada","contact":{"value":"` + hidden + `"}}`},
		{"the PUT route binds a context the POST lacks", "note", "contact.value", "context: { header: X-Tenant }", `{"note":"` + hidden + `"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			put := []string{"request: [ {path: " + c.put + ", class: secret} ]"}
			if c.putContext != "" {
				put = append(put, c.putContext)
			}
			routes := accountsRoute("accounts-create", "POST", "request: [ {path: "+c.post+", class: secret} ]") + accountsRoute("accounts-update", "PUT", put...)
			a := newApp(t, anyTypeJSONApp)
			sc := startApp(t, a, routes)
			r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", JSON: c.body})
			if r.Status != http.StatusOK || len(a.received()) != 1 {
				t.Errorf("plain POST /accounts/1: %d %s, app received %d requests; want 200 and the record sealed", r.Status, r.Body, len(a.received()))
			}
			a.mustNotHold(t, hidden)
		})
	}
}

// R5-4: the other way round, the PUT route seals contact whole and the
// POST route only contact.value: a plain POST, which the application takes
// as the POST route, reaches it with contact sealed whole, so the
// non-personal members the POST route leaves readable (contact.type) are
// gone from what the application receives.
func TestAttackR5PlainPostSealedWholeByAnotherRoute(t *testing.T) {
	routes := accountsRoute("accounts-create", "POST", "request: [ {path: contact.value, class: secret} ]") +
		accountsRoute("accounts-update", "PUT", "request: [ {path: contact, class: secret} ]")
	var got struct{ Contact json.RawMessage }
	a := newApp(t, func(_ *http.Request, body []byte) []string {
		_ = json.Unmarshal(body, &got)
		return anyTypeJSONApp(nil, body)
	})
	sc := startApp(t, a, routes)
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", JSON: `{"contact":{"type":"home","value":"` + hidden + `"}}`})
	if r.Status != http.StatusOK {
		t.Fatalf("plain POST /accounts/1: %d %s", r.Status, r.Body)
	}
	a.mustNotHold(t, hidden)
	var c struct{ Type string }
	if err := json.Unmarshal(got.Contact, &c); err != nil || c.Type != "home" {
		t.Errorf("the POST route's application received contact %s, want an object with type \"home\" and value sealed", got.Contact)
	}
}

// R5-6: both routes name contact.value, only the PUT route binds the
// record id. A POST tunnelled as PUT was sealed first in the POST route's
// context (none) and the PUT pass kept it, so Rack stored under the PUT
// route a value that the GET route of the same record (context id) cannot
// open. No sealed form of it opens under both routes: it is refused (400
// ambiguous_route) and nothing is stored; a plain PUT stores a value the
// record's GET opens.
func TestAttackR5SharedPathSealedInFirstRoutesContext(t *testing.T) {
	// postAndPut with the POST route naming contact.value too.
	routes := strings.Replace(postAndPut, "{path: note, class: secret}", "{path: contact.value, class: secret}", 1)
	store := newEchoStore(t, nil)
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.srv.URL, FieldMap: fieldMap + routes})
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", JSON: `{"_method":"PUT","contact":{"value":"` + hidden + `"}}`})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"ambiguous_route"`) || store.stored() != nil {
		t.Fatalf("POST /accounts/1 tunnelled as PUT: %d %s, app stored %q; want 400 ambiguous_route and nothing stored", r.Status, r.Body, store.stored())
	}
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "PUT", Path: "/accounts/1", JSON: `{"contact":{"value":"` + hidden + `"}}`})
	if strings.Contains(string(store.stored()), hidden) {
		t.Fatalf("app stored %s", store.stored())
	}
	r = sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1"})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"value":"`+hidden+`"`) {
		t.Errorf("GET /accounts/1 after the PUT: %d %s, want contact.value opened", r.Status, r.Body)
	}
}
