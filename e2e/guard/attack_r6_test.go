package guard_test

// Reproductions of the sixth attack on the guard: a POST whose method an
// application takes from a place fieldseal does not read (a body with no
// Content-Type, which Rack parses as a form; a multipart _method part; a
// form field named _METHOD, which ASP.NET Core's form collection finds
// case-insensitively). Each holds once fixed. Not kept: a plain POST to a
// path no POST route lists still takes the PUT, PATCH or DELETE route there
// (its context, its JSON paths), as the README says.

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// rackParams reads a request as Rack::Request#POST does: a POST with no
// Content-Type is form data (Rack's form_data?), as is an urlencoded body.
// It returns every "name=value" pair, and the method Rack::MethodOverride
// makes of the POST (_method).
func rackParams(r *http.Request, body []byte) (pairs []string, method string) {
	method = r.Method
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !(r.Method == http.MethodPost && r.Header.Get("Content-Type") == "") && mt != formType {
		return nil, method
	}
	q, _ := url.ParseQuery(string(body))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, k+"="+v, v)
		}
	}
	if m := q.Get("_method"); r.Method == http.MethodPost && m != "" {
		method = strings.ToUpper(m)
	}
	return pairs, method
}

// actionAndUpdate has a POST route that seals no request value and a PUT
// route that seals contact.value on /accounts/{id}.
var actionAndUpdate = accountsRoute("accounts-action", "POST", "response: [ {path: note, class: secret} ]") +
	accountsRoute("accounts-update", "PUT", "request: [ {path: contact.value, class: secret} ]")

// R6-1: a POST body with no Content-Type is sniffed for JSON and, when it
// is not JSON, forwarded as it came; Rack parses it as an urlencoded form.
// Class members (email) reach a Rails or Sinatra application in
// plaintext on any path, and a _method=PUT in it makes the POST the PUT
// route, whose contact.value (contact[value]) is never sealed either. A
// body shaped like JSON is sealed as JSON only, not as the form Rack reads.
func TestAttackR6FormWithoutContentType(t *testing.T) {
	a := newApp(t, func(r *http.Request, body []byte) []string {
		pairs, _ := rackParams(r, body)
		return pairs
	})
	sc := startApp(t, a, actionAndUpdate)
	for _, q := range []sidecartest.Req{
		{Method: "POST", Path: "/signup", Body: []byte("name=mallory&email=" + url.QueryEscape(alice))},
		{Method: "POST", Path: "/accounts/1", Body: []byte("_method=PUT&contact%5Bvalue%5D=" + hidden)},
		// Shaped like JSON: sealed as JSON only, not as the form Rack reads.
		{Method: "POST", Path: "/signup", Body: []byte(`{"x":"1&email=` + url.QueryEscape(alice) + `&y="}`)},
	} {
		r := sc.Do(t, q)
		t.Logf("%s %s (no Content-Type) -> %d %s", q.Method, q.Path, r.Status, r.Body)
	}
	a.mustNotHold(t, alice, hidden)
	// Not refused: the form reached Rack with its e-mail sealed.
	if got := a.received(); len(got) == 0 || !slices.ContainsFunc(got[0].Strings, func(s string) bool { return strings.HasPrefix(s, "email=fs1:") }) {
		t.Errorf("POST /signup with no Content-Type reached the app as %v, want email sealed", got)
	}
}

// methodApp answers like an application whose POST takes its method from
// the body in the way of one framework (Rack, Laravel, ASP.NET Core's
// HttpMethodOverride with a form field): a GET of an account answers the
// stored record, legacy plaintext at contact.value; anything else
// answers {"ok":true}.
func methodApp(record string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := r.Method
		mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case r.Method != http.MethodPost:
		case strings.HasPrefix(mt, "multipart/"):
			// Rack, PHP's $_POST (Laravel, Symfony), Spring's
			// HiddenHttpMethodFilter: the _method part.
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.Header.Set("Content-Type", "multipart/form-data; boundary="+params["boundary"])
			if r.ParseMultipartForm(1<<20) == nil && r.PostFormValue("_method") != "" {
				m = strings.ToUpper(r.PostFormValue("_method"))
			}
		case mt == formType:
			// ASP.NET Core: IFormCollection looks names up ignoring case.
			q, _ := url.ParseQuery(string(body))
			for k, vs := range q {
				if strings.EqualFold(k, "_method") && len(vs) > 0 {
					m = strings.ToUpper(vs[0])
				}
			}
		default:
			if _, rm := rackParams(r, body); rm != r.Method {
				m = rm
			}
		}
		answerAs(w, r, m, record)
	}
}

// R6-2: R5-2 (a POST tunnelled as GET answers the GET route's record,
// which must be opened under the GET route too) through the _method
// fieldseal does not read: a multipart part (the GET route seals no
// request value, so the multipart POST is not refused), a body with no
// Content-Type (Rack), and a form field _METHOD (ASP.NET Core). The
// response is opened under the POST route alone, which names no response
// path, and a caller whose action for the class is sealed reads its
// legacy plaintext, where the GET itself seals it for that caller.
func TestAttackR6ResponseUnderUnreadBodyMethod(t *testing.T) {
	sc, auth := legacyReader(t, methodApp(legacyRecord), "response: [ {path: receipt, class: secret} ]", "")
	for name, q := range map[string]struct {
		ct   string
		body string
	}{
		"multipart _method part": {"multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nGET\r\n--B--\r\n"},
		"no Content-Type (Rack)": {"", "_method=GET"},
		"form _METHOD (ASP.NET)": {formType, "_METHOD=GET"},
		"form _method (control)": {formType, "_method=GET"},
	} {
		h := map[string]string{"Authorization": auth["Authorization"]}
		if q.ct != "" {
			h["Content-Type"] = q.ct
		}
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: h, Body: []byte(q.body)})
		t.Logf("%s: %d %s", name, r.Status, r.Body)
		var got struct{ Contact struct{ Value string } }
		_ = json.Unmarshal(r.Body, &got)
		if r.Status != http.StatusOK || !strings.HasPrefix(got.Contact.Value, "fs1:") {
			t.Errorf("%s: POST /accounts/1 answered %d %s: want 200 with contact.value sealed, as the GET route leaves it for this caller", name, r.Status, r.Body)
		}
	}
}

// R6-3: R5-6 (a value two routes seal differently is refused) where the
// second route names an ancestor of what the first sealed: the POST route
// seals contact.value in no context, the PUT route (and the GET route
// that reads its records) contact whole in the record's context. A POST
// tunnelled as PUT keeps the POST route's sealed contact.value inside the
// object the PUT pass seals whole (KeepSealedElsewhere), so Rack stores a
// record whose contact.value the GET route of that record never opens.
// Either it is refused (ambiguous_route) or the record reads back whole.
func TestAttackR6AlsoRouteSealsAncestorWhole(t *testing.T) {
	routes := accountsRoute("accounts-action", "POST", "request: [ {path: contact.value, class: secret} ]") +
		accountsRoute("accounts-update", "PUT", "context: { path_param: id }", "request: [ {path: contact, class: secret} ]") +
		accountsRoute("accounts-read", "GET", "context: { path_param: id }", "response: [ {path: contact, class: secret} ]")
	store := newEchoStore(t, nil)
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.srv.URL, FieldMap: fieldMap + routes})
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", JSON: `{"_method":"PUT","contact":{"value":"` + hidden + `"}}`})
	if r.Status == http.StatusBadRequest && strings.Contains(string(r.Body), `"ambiguous_route"`) && store.stored() == nil {
		return // refused: held
	}
	if strings.Contains(string(store.stored()), hidden) {
		t.Fatalf("app stored %s", store.stored())
	}
	got := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1"})
	if got.Status != http.StatusOK || !strings.Contains(string(got.Body), `"value":"`+hidden+`"`) {
		t.Errorf("POST /accounts/1 tunnelled as PUT answered %d %s and stored %s; the record's GET answers %d %s: want 400 ambiguous_route, or contact.value opened on read",
			r.Status, r.Body, store.stored(), got.Status, got.Body)
	}
}

// R6-4: a form whose body also parses as JSON is sealed under both
// readings, and its _method is read under both, but only the JSON reading
// is sealed under the route that _method adds: a form reader (Rack,
// Laravel) takes _method=PUT from inside a JSON string, routes the POST
// to the PUT route, and reads contact[value] in plaintext, where the same
// form not shaped like JSON is refused (415: the PUT route's paths name
// JSON values).
func TestAttackR6FormShapedLikeJSONPastBodyRoute(t *testing.T) {
	a := newApp(t, func(r *http.Request, body []byte) []string {
		pairs, m := rackParams(r, body)
		if m != http.MethodPut {
			return nil
		}
		return pairs
	})
	sc := startApp(t, a, actionAndUpdate)
	form := map[string]string{"Content-Type": formType}
	plain := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte("_method=PUT&contact%5Bvalue%5D=" + hidden)})
	if plain.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("form POST tunnelled as PUT: %d %s, want 415 (the baseline)", plain.Status, plain.Body)
	}
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte(`{"x":"1&_method=PUT&contact%5Bvalue%5D=` + hidden + `&y="}`)})
	t.Logf("the same form shaped like JSON: %d %s", r.Status, r.Body)
	a.mustNotHold(t, hidden)
}

// R6-5: the query is sealed again under each other route of the request
// with AcceptSealed, which the first pass never checked when the first
// route names no query parameter: a real sealed value copied from a
// record (here: what the application stored from a POST) is refused in a
// plain GET's e-mail parameter (guard.sealed_writes: refuse, the default)
// and accepted in the same GET overridden to POST.
func TestAttackR6QueryCopiedSealedPastFirstRoute(t *testing.T) {
	a := newApp(t, func(r *http.Request, body []byte) []string {
		var v struct{ Contact struct{ Value string } }
		_ = json.Unmarshal(body, &v)
		return []string{v.Contact.Value}
	})
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: createAndSearch})
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "POST", Path: "/accounts", JSON: `{"contact":{"value":"` + alice + `"}}`})
	sealed := a.received()[0].Strings[0]
	if !strings.HasPrefix(sealed, "fs1:") {
		t.Fatalf("app stored %q, want a sealed value", sealed)
	}
	path := "/accounts?email=" + url.QueryEscape(sealed)
	plain := sc.Do(t, sidecartest.Req{Method: "GET", Path: path})
	if plain.Status < 400 || plain.Status >= 500 {
		t.Fatalf("GET with a copied sealed email: %d %s, want a 4xx (the baseline)", plain.Status, plain.Body)
	}
	over := sc.Do(t, sidecartest.Req{Method: "GET", Path: path, Header: map[string]string{"X-HTTP-Method-Override": "POST"}})
	if over.Status < 400 || over.Status >= 500 {
		t.Errorf("GET with a copied sealed email, overridden to POST: %d %s, want %d as without the override", over.Status, over.Body, plain.Status)
	}
}
