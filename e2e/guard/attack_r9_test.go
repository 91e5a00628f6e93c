package guard_test

// Reproductions of the ninth attack on the guard: requests an application
// routes by something fieldseal does not read (an X-Original-URL or
// X-Rewrite-URL header; a format suffix with more than one dot), and a
// route path key an application binds by Java's equalsIgnoreCase. Each
// holds once fixed. Held, not kept: duplicate members of other letter case
// or escaped names under a route path; concatenated or NDJSON documents
// (refused); gzip, x-gzip, stacked and multi-member gzip codings.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// originalURLPath returns the path an application behind IIS's URL Rewrite
// module routes a request by: X-Original-URL, else X-Rewrite-URL, else the
// request's own (Zend Framework 1 and zend-http's Request::setRequestUri,
// Symfony's Request::prepareRequestUri before 2.7.49/3.4.14, and Drupal 7 on
// IIS read these headers first, from any client).
func originalURLPath(r *http.Request) string {
	for _, h := range []string{"X-Original-Url", "X-Rewrite-Url"} {
		if v := r.Header.Get(h); v != "" {
			if u, err := url.Parse(v); err == nil {
				return u.Path
			}
		}
	}
	return r.URL.Path
}

// R9-1: a POST to a path no route lists, whose X-Original-URL (or
// X-Rewrite-URL) names /customers, is the customers-write route to an
// application that routes by that header and an unlisted path to
// fieldseal, which then seals class members only: contact.value, which only
// the route names, reaches the store in plaintext.
func TestAttackR9OriginalURLHeaderRoutes(t *testing.T) {
	body := `{"contact":{"value":"` + hidden + `"}}`
	for _, h := range []string{"X-Original-URL", "X-Rewrite-URL"} {
		t.Run(h, func(t *testing.T) {
			a := newApp(t, func(r *http.Request, b []byte) []string {
				if originalURLPath(r) != "/customers" {
					return nil
				}
				return anyTypeJSONApp(r, b)
			})
			sc := startApp(t, a, "")
			// The baseline: on its own path the route seals the value.
			sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "POST", Path: "/customers", JSON: body})
			r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/index.php", Header: map[string]string{h: "/customers"}, JSON: body})
			t.Logf("POST /index.php with %s: /customers -> %d %s", h, r.Status, r.Body)
			a.mustNotHold(t, hidden)
		})
	}
}

// springSuffixRoute reports whether Spring MVC up to 5.2, with its default
// suffix pattern match, routes path to the mapping pattern: a pattern with
// no '.' also matches pattern+".*", and AntPathMatcher's '*' takes any
// characters of the segment, dots included ("/customers.a.b").
func springSuffixRoute(pattern, path string) bool {
	return path == pattern || strings.HasPrefix(path, pattern+".") && !strings.Contains(path[len(pattern):], "/")
}

// R9-2: a POST to "/customers.json.bak" (any suffix with a second dot) is
// the customers route to Spring MVC's suffix pattern match ("/customers.*")
// and, with only its last ".bak" read away, "/customers.json" to fieldseal,
// which no route lists: contact.value reaches the store in plaintext. The
// same for "/customers/7/contact.x.y" under a route on
// "/customers/{id}/contact".
func TestAttackR9FormatSuffixWithTwoDots(t *testing.T) {
	const extra = `
  - name: contact-write
    methods: [PUT]
    paths: ["/customers/{id}/contact"]
    request: [ {path: value, class: secret} ]
`
	for _, c := range []struct{ method, path, pattern, body string }{
		{"POST", "/customers.json.bak", "/customers", `{"contact":{"value":"` + hidden + `"}}`},
		{"PUT", "/customers/7/contact.x.y", "/customers/7/contact", `{"value":"` + hidden + `"}`},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			a := newApp(t, func(r *http.Request, b []byte) []string {
				if !springSuffixRoute(c.pattern, r.URL.Path) {
					return nil
				}
				return anyTypeJSONApp(r, b)
			})
			sc := startApp(t, a, extra)
			sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: c.method, Path: c.pattern, JSON: c.body})
			r := sc.Do(t, sidecartest.Req{Method: c.method, Path: c.path, JSON: c.body})
			t.Logf("%s %s -> %d %s", c.method, c.path, r.Status, r.Body)
			a.mustNotHold(t, hidden)
		})
	}
}

// R9-3: a route path's keys are compared with strings.EqualFold, not with
// the folding member names use (dotted and dotless I as i, as Java's
// equalsIgnoreCase and JSON-B's case-insensitive binding read them):
// "tın" and "TİN" are "tin" to the application and not to the route, so
// the value its route path names reaches the store in plaintext. Member
// names and wildcard route paths (foldKey) fold them; explicit keys do not.
func TestAttackR9TurkishIRoutePathKeys(t *testing.T) {
	const extra = `
  - name: profiles-write
    methods: [POST]
    paths: [/profiles]
    request: [ {path: tin, class: secret}, {path: identity.number, class: secret} ]
`
	a := newApp(t, func(_ *http.Request, body []byte) []string {
		var v map[string]any
		if json.Unmarshal(body, &v) != nil {
			return nil
		}
		var out []string
		for k, e := range v {
			if s, ok := e.(string); ok && javaEqualsIgnoreCase(k, "tin") {
				out = append(out, s)
			}
			if o, ok := e.(map[string]any); ok && javaEqualsIgnoreCase(k, "identity") {
				for k2, e2 := range o {
					if s, ok := e2.(string); ok && javaEqualsIgnoreCase(k2, "number") {
						out = append(out, s)
					}
				}
			}
		}
		return out
	})
	sc := startApp(t, a, extra)
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "POST", Path: "/profiles", JSON: `{"TIN":"` + hidden + `","Identity":{"NUMBER":"` + hidden + `"}}`})
	for _, doc := range []string{
		`{"tın":"` + hidden + `"}`,
		`{"TİN":"` + hidden + `"}`,
		`{"ıdentity":{"number":"` + hidden + `"}}`,
	} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/profiles", JSON: doc})
		t.Logf("%s -> %d %s", doc, r.Status, r.Body)
	}
	a.mustNotHold(t, hidden)
}

// An application that routes by X-Original-URL reads the query in it too:
// a route found by that header seals the request's own query, and a header
// whose query differs from the request's is refused (400 invalid_query)
// where the route seals query parameters, since fieldseal does not seal
// inside the header.
func TestRewriteHeaderQuery(t *testing.T) {
	a := newApp(t, func(r *http.Request, _ []byte) []string {
		out := r.URL.Query()["email"]
		if u, err := url.Parse(r.Header.Get("X-Original-URL")); err == nil {
			out = append(out, u.Query()["email"]...)
		}
		return out
	})
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: createAndSearch})
	q := "email=" + url.QueryEscape(alice)
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "GET", Path: "/index.php?" + q, Header: map[string]string{"X-Original-URL": "/accounts?" + q}})
	r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/index.php", Header: map[string]string{"X-Original-URL": "/accounts?" + q}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"invalid_query"`) {
		t.Errorf("GET /index.php with X-Original-URL /accounts?%s: %d %s, want 400 invalid_query", q, r.Status, r.Body)
	}
	if got := a.received(); len(got) != 1 {
		t.Fatalf("app received %d requests, want the first only", len(got))
	}
	a.mustNotHold(t, alice)
}
