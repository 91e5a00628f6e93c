package guard_test

// Reproductions of the tenth attack on the guard: requests an application
// routes by a reading fieldseal does not make. A header spelt with
// underscores is the same CGI variable as the dashed one (Rack on Puma,
// PHP's $_SERVER), so "X_HTTP_METHOD_OVERRIDE" and "X_ORIGINAL_URL" route
// such applications as the dashed headers do; an X-Original-URL in
// absolute form ("http://host/customers") is a URL whose path they route
// by, not a path; a path segment with a
// dotless or dotted I is the route's literal to a router that compares
// segments by Java's equalsIgnoreCase (Spring's AntPathMatcher with
// setCaseSensitive(false)); and "/customers." is "/customers" to Spring
// MVC's suffix pattern match ("/customers.*"). Each holds once fixed.
// Held, not kept: Content-Length with Transfer-Encoding, two equal
// Content-Lengths, obs-folded override headers, "Transfer-Encoding:
// Chunked", chunked bodies with trailers (not forwarded once sealed),
// Expect: 100-continue, HTTP/1.0 without a length, absolute-form request
// targets (routed by their path), 40 000 class members in one body.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// cgiHeader returns a request header as a CGI-style server hands it to the
// application: every field whose name upper-cased, with '-' read as '_',
// is HTTP_<name>, underscores and all. Puma (since 6.4.3 and 5.6.9) drops
// a field spelt with '_' only when the same name spelt with '-' is also
// present; WEBrick, FrankenPHP's Go API and PHP's built-in server keep it.
func cgiHeader(r *http.Request, name string) string {
	key := "HTTP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	var dashed, underscored string
	for k, vs := range r.Header {
		if "HTTP_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_")) != key || len(vs) == 0 {
			continue
		}
		if strings.Contains(k, "_") {
			underscored = vs[0]
		} else {
			dashed = vs[0]
		}
	}
	if dashed != "" {
		return dashed
	}
	return underscored
}

// R10-1: Rack::MethodOverride takes a POST's method from
// env["HTTP_X_HTTP_METHOD_OVERRIDE"], which a field named
// "X_HTTP_METHOD_OVERRIDE" fills on Puma; fieldseal reads only the dashed
// spelling, so the POST is sealed under the POST route alone and the PUT
// route's contact.value reaches the application's PUT handler in plaintext.
func TestAttackR10UnderscoreMethodOverrideHeader(t *testing.T) {
	overrideSpellings(t, cgiHeader, "X-HTTP-Method-Override", "X_HTTP_METHOD_OVERRIDE", "X-HTTP_Method-Override")
}

// overrideSpellings runs a POST to /accounts/1 that overrides its method to
// PUT through the header baseline and then through each of spellings, in
// front of an application that reads a POST's method override through
// header (a server's reading of field names), and checks that the PUT
// route's contact.value reaches the application sealed every time.
func overrideSpellings(t *testing.T, header func(*http.Request, string) string, baseline string, spellings ...string) {
	t.Helper()
	a := newApp(t, func(r *http.Request, b []byte) []string {
		m := r.Method
		if m == http.MethodPost {
			if o := strings.ToUpper(header(r, "X-HTTP-Method-Override")); o != "" {
				m = o
			}
		}
		if m != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/accounts/") {
			return nil
		}
		return anyTypeJSONApp(r, b)
	})
	sc := startApp(t, a, postAndPut)
	body := `{"contact":{"value":"` + hidden + `"}}`
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: map[string]string{baseline: "PUT"}, JSON: body})
	a.mustNotHold(t, hidden)
	for _, h := range spellings {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: map[string]string{h: "PUT"}, JSON: body})
		t.Logf("POST /accounts/1 with %s: PUT -> %d %s", h, r.Status, r.Body)
	}
	a.mustNotHold(t, hidden)
}

// R10-2: Symfony (before 2.7.49/3.4.14), Zend Framework 1 and Drupal 7
// read X-Original-URL from $_SERVER["HTTP_X_ORIGINAL_URL"], which a field
// named "X_ORIGINAL_URL" fills under PHP's built-in server or FrankenPHP's
// Go API; fieldseal reads only fieldmap.RewriteHeaders as Go canonicalizes
// them, so POST /index.php is an unlisted path to it and the customers
// route's contact.value reaches the store in plaintext.
func TestAttackR10UnderscoreOriginalURLHeader(t *testing.T) {
	body := `{"contact":{"value":"` + hidden + `"}}`
	for _, h := range []string{"X_ORIGINAL_URL", "X_REWRITE_URL", "X-Original_URL"} {
		t.Run(h, func(t *testing.T) {
			a := newApp(t, func(r *http.Request, b []byte) []string {
				p := r.URL.Path
				for _, name := range []string{"X-Original-URL", "X-Rewrite-URL"} {
					if v := cgiHeader(r, name); v != "" {
						if u, err := url.Parse(v); err == nil {
							p = u.Path
						}
						break
					}
				}
				if p != "/customers" {
					return nil
				}
				return anyTypeJSONApp(r, b)
			})
			sc := startApp(t, a, "")
			r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/index.php", Header: map[string]string{h: "/customers"}, JSON: body})
			t.Logf("POST /index.php with %s: /customers -> %d %s", h, r.Status, r.Body)
			a.mustNotHold(t, hidden)
		})
	}
}

// R10-3: route patterns' literal segments are compared with
// strings.EqualFold (pattern.match), which does not equate the dotless
// 'ı' or the dotted 'İ' with 'i'; Spring's AntPathMatcher with
// setCaseSensitive(false) compares a literal segment by Java's
// equalsIgnoreCase, which does (R9 fixed the same for route path keys, not
// for paths). POST /prof%C4%B1les is the profiles route to such an
// application and an unlisted path to fieldseal: the route's tin reaches
// the store in plaintext.
func TestAttackR10TurkishIInRoutePath(t *testing.T) {
	const extra = `
  - name: profiles-write
    methods: [POST]
    paths: [/profiles]
    request: [ {path: tin, class: secret} ]
`
	a := newApp(t, func(r *http.Request, b []byte) []string {
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(segs) != 1 || !javaEqualsIgnoreCase(segs[0], "profiles") {
			return nil
		}
		return anyTypeJSONApp(r, b)
	})
	sc := startApp(t, a, extra)
	body := `{"tin":"` + hidden + `"}`
	sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "POST", Path: "/PROFILES", JSON: body})
	a.mustNotHold(t, hidden)
	for _, p := range []string{"/prof%C4%B1les", "/PROF%C4%B0LES"} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: p, JSON: body})
		t.Logf("POST %s -> %d %s", p, r.Status, r.Body)
	}
	a.mustNotHold(t, hidden)
}

// R10-4: formatStems reads no suffix from a segment that ends with its
// dot, but Spring MVC's suffix pattern match (up to 5.2) routes
// "/customers." and "/customers.." by "/customers.*", whose '*' takes
// nothing too: an unlisted path to fieldseal, the customers route to the
// application, and contact.value reaches the store in plaintext.
func TestAttackR10FormatSuffixEmpty(t *testing.T) {
	body := `{"contact":{"value":"` + hidden + `"}}`
	for _, p := range []string{"/customers.", "/customers.."} {
		t.Run(p, func(t *testing.T) {
			a := newApp(t, func(r *http.Request, b []byte) []string {
				if !springSuffixRoute("/customers", r.URL.Path) {
					return nil
				}
				return anyTypeJSONApp(r, b)
			})
			sc := startApp(t, a, "")
			r := sc.Do(t, sidecartest.Req{Method: "POST", Path: p, JSON: body})
			t.Logf("POST %s -> %d %s", p, r.Status, r.Body)
			a.mustNotHold(t, hidden)
		})
	}
}

// R10-5: the response side of R10-1. A POST with "X_HTTP_METHOD_OVERRIDE:
// GET" is the GET route to Rack on Puma, which answers the account; fieldseal
// opens the answer under the POST route alone, which names no response
// path, so the legacy plaintext at the GET route's contact.value reaches a
// caller whose action for the class is sealed (the dashed header is read,
// and the GET route seals it for that caller).
func TestAttackR10UnderscoreOverrideResponse(t *testing.T) {
	rack := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := r.Method
		if m == http.MethodPost {
			if o := strings.ToUpper(cgiHeader(r, "X-HTTP-Method-Override")); o != "" {
				m = o
			}
		}
		answerAs(w, r, m, legacyRecord)
	})
	sc, auth := legacyReader(t, rack, "request: [ {path: note, class: secret} ]", "")
	for _, h := range []string{"X-HTTP-Method-Override", "X_HTTP_METHOD_OVERRIDE"} {
		for _, body := range []string{"", "{}"} {
			hdr := map[string]string{"Authorization": auth["Authorization"], h: "GET"}
			r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: hdr, JSON: body})
			if strings.Contains(string(r.Body), legacyContact) {
				t.Errorf("POST /accounts/1 with %s: GET and body %q: %d %s: the caller read legacy plaintext the GET route seals for it", h, body, r.Status, r.Body)
			}
		}
	}
}

// R10-6: fieldseal reads an X-Original-URL (or X-Rewrite-URL) value as a
// path, cut at '?', but an application parses it as a URL reference (R9's
// own originalURLPath, and PHP routers that take parse_url($uri,
// PHP_URL_PATH)): "http://host/customers" and the network-path reference
// "//host/customers" have the path /customers to them, and are no route's
// path to fieldseal (which reads "/http:/host/customers" and
// "/host/customers"), so contact.value reaches the store in plaintext.
func TestAttackR10OriginalURLAbsoluteForm(t *testing.T) {
	body := `{"contact":{"value":"` + hidden + `"}}`
	for _, v := range []string{"http://app.internal/customers", "//app.internal/customers", "HTTPS://app.internal:8443/customers?x=1"} {
		t.Run(v, func(t *testing.T) {
			a := newApp(t, func(r *http.Request, b []byte) []string {
				if originalURLPath(r) != "/customers" {
					return nil
				}
				return anyTypeJSONApp(r, b)
			})
			sc := startApp(t, a, "")
			r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/index.php", Header: map[string]string{"X-Original-URL": v}, JSON: body})
			t.Logf("POST /index.php with X-Original-URL: %s -> %d %s", v, r.Status, r.Body)
			a.mustNotHold(t, hidden)
		})
	}
}

// R10-7: the response side of R10-2 and R10-6. A GET of /index.php whose
// X-Original-URL names the account, in absolute form or spelt with
// underscores, is the account's GET route to an application that routes
// by it and no route to fieldseal, which passes the legacy plaintext at
// that route's contact.value to a caller whose action for the class is
// sealed (the plain GET, and the header with a path, seal it).
func TestAttackR10OriginalURLResponse(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if v := cgiHeader(r, "X-Original-URL"); v != "" {
			if u, err := url.Parse(v); err == nil {
				p = u.Path
			}
		}
		r.URL.Path = p
		answerAs(w, r, r.Method, legacyRecord)
	})
	sc, auth := legacyReader(t, app, "request: [ {path: note, class: secret} ]", "")
	for _, h := range [][2]string{
		{"X-Original-URL", "/accounts/1"}, // held
		{"X-Original-URL", "http://app.internal/accounts/1"},
		{"X_ORIGINAL_URL", "/accounts/1"},
	} {
		r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/index.php", Header: map[string]string{"Authorization": auth["Authorization"], h[0]: h[1]}})
		if strings.Contains(string(r.Body), legacyContact) {
			t.Errorf("GET /index.php with %s: %s: %d %s: the caller read legacy plaintext the GET route seals for it", h[0], h[1], r.Status, r.Body)
		}
	}
}
