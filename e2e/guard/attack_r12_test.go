package guard_test

// Reproductions of the twelfth attack on the guard: a route's filter
// parameter (query: [{param: filter, member: email}]) spelt as frameworks
// read a parameter name, which fieldseal reads for its plain query
// parameters (email[], " email") but not for a filter: "[filter]" is
// filter to qs (Express) and Rack 2, "filter]" to Rack 2, " filter" and
// "filter\x00" to PHP's $_GET; and a filter whose member is a double-quoted
// identifier, as SQL reads "email" = '...'. And a response of another
// content type than JSON, compressed, which fieldseal does not sniff for a
// caller who may not read some class, where it sniffs the same response
// uncompressed. Each holds once fixed. Not kept: multipart/mixed batch
// responses with JSON parts, a format fieldseal does not parse.

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// filterMap is a field map whose search route seals the email parameter
// and the literals its filter parameter compares the email member with.
const filterMap = `
classes:
  email: { mode: deterministic, keys: [email] }
routes:
  - name: accounts-search
    methods: [GET]
    paths: [/accounts]
    query: [ {param: email, class: email}, {param: filter, member: email, class: email} ]
    response: [ {path: contact.value, class: email} ]
`

// queryParam returns the values a query parameter name takes in an
// application whose framework reads names one of three ways: qs
// (Express's req.query: "[filter]" is filter), Rack 2 ("filter]" and
// "[filter]" are filter) and PHP's $_GET (leading spaces dropped, cut at
// NUL, ' ' and '.' as '_'); array readings ("filter[]") are left out.
func queryParam(r *http.Request, want string) []string {
	var out []string
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		name, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		php, _, _ := strings.Cut(name, "\x00")
		php = strings.NewReplacer(" ", "_", ".", "_").Replace(strings.TrimLeft(php, " "))
		qs, qsArray := qsTopKey(name)
		rack, rackPlain := rack2Key(name)
		if name == want || php == want || qs == want && !qsArray || rack == want && rackPlain {
			out = append(out, val)
		}
	}
	return out
}

// R12-1: a filter parameter whose name a framework reads as the route's
// filter (qs, Rack 2, PHP) is not the filter to fieldseal, which compares
// names exactly (in any letter case): the literal the email member is
// compared with reaches the application in plaintext. The plain email
// parameter under the same spellings is sealed.
func TestAttackR12FilterParamNameReadings(t *testing.T) {
	a := newApp(t, func(r *http.Request, _ []byte) []string {
		return append(queryParam(r, "filter"), queryParam(r, "email")...)
	})
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: filterMap})
	f := url.QueryEscape("email='" + alice + "'")
	// The baseline: the filter and the parameter, spelt as the route names
	// them, and the parameter spelt as the frameworks read it.
	for _, q := range []string{"filter=" + f, "email=" + url.QueryEscape(alice), "[email]=" + url.QueryEscape(alice),
		"email]=" + url.QueryEscape(alice), "+email=" + url.QueryEscape(alice), "email%00=" + url.QueryEscape(alice)} {
		sc.DoWant(t, http.StatusOK, sidecartest.Req{Method: "GET", Path: "/accounts?" + q})
	}
	a.mustNotHold(t, alice)
	for _, name := range []string{"[filter]", "%5Bfilter%5D", "filter]", "+filter", "%20filter", "filter%00"} {
		r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts?" + name + "=" + f})
		t.Logf("GET /accounts?%s=%s -> %d", name, f, r.Status)
	}
	a.mustNotHold(t, alice)
}

// R12-2: in SQL (SQLite, PostgreSQL, standard SQL) a double-quoted name is
// an identifier, so `"email" = '...'` compares the email column; fieldseal
// reads "email" as a literal, skips it, and forwards the compared literal
// in plaintext, where it refuses `email = '...'` written any way it cannot
// seal.
func TestAttackR12FilterQuotedMember(t *testing.T) {
	a := newApp(t, func(r *http.Request, _ []byte) []string { return r.URL.Query()["filter"] })
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: filterMap})
	for _, expr := range []string{`"email" = '` + alice + `'`, `"EMAIL"='` + alice + `'`} {
		r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts?filter=" + url.QueryEscape(expr)})
		t.Logf("GET /accounts?filter=%s -> %d", expr, r.Status)
	}
	a.mustNotHold(t, alice)
}

// compressedRecord answers a GET with legacyRecord gzip-encoded under the
// status and Content-Type its "status" and "type" query parameters name
// (200 and text/plain when absent) when "gzip" is set, else as it is: a
// store that serves JSON as text/plain to Accept: */*, behind compression
// middleware (Express's compression, nginx's gzip, which also compress
// error pages).
var compressedRecord = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ct, status := q.Get("type"), http.StatusOK
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	if q.Get("status") == "404" {
		status = http.StatusNotFound
	}
	w.Header().Set("Content-Type", ct)
	body := []byte(legacyRecord)
	if q.Get("gzip") != "" {
		w.Header().Set("Content-Encoding", "gzip")
		body = gz(body)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
})

// gunzipped returns r's body decoded when it is still gzip-encoded (the
// test client decodes it itself when it asked for gzip).
func gunzipped(r sidecartest.Resp) []byte {
	if r.Header.Get("Content-Encoding") != "gzip" {
		return r.Body
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.Body))
	if err != nil {
		return r.Body
	}
	b, _ := io.ReadAll(zr)
	return b
}

// R12-3: the GET route's response, JSON served as text/plain (or as
// text/html, or as a 404), is sniffed and transformed for a caller whose
// action for the class is sealed when it comes uncompressed; gzip-encoded,
// sniffResponseJSON gives up on it and it passes untouched, so the client,
// which decodes the coding as every HTTP client does and parses the JSON,
// reads the legacy plaintext of contact.value.
func TestAttackR12CompressedResponseOfAnotherType(t *testing.T) {
	sc, auth := legacyReader(t, compressedRecord, "request: [ {path: note, class: secret} ]", "")
	// The baseline: uncompressed, the same bodies are sniffed and sealed.
	for _, q := range []string{"status=404", "type=text/html", "type=application/octet-stream"} {
		r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1?" + q, Header: auth})
		if bytes.Contains(r.Body, []byte(legacyContact)) {
			t.Fatalf("GET /accounts/1?%s: %d %s: the baseline leaks", q, r.Status, r.Body)
		}
	}
	for _, q := range []string{"gzip=1", "gzip=1&status=404", "gzip=1&type=text/html", "gzip=1&type=application/octet-stream"} {
		r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1?" + q, Header: auth})
		if body := gunzipped(r); bytes.Contains(body, []byte(legacyContact)) {
			t.Errorf("GET /accounts/1?%s gzip-encoded: %d %q: the caller read legacy plaintext the GET route seals for it", q, r.Status, body)
		}
	}
}

// R12-3b: the same on a path no route lists, where a class member's legacy
// plaintext is sealed for a caller who may not read the class when the
// JSON comes uncompressed under any type, and passes gzip-encoded.
func TestAttackR12CompressedUnlistedResponseOfAnotherType(t *testing.T) {
	record := `{"id":1,"email":"` + legacyMember + `"}`
	feed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("shape") {
		case "text":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(record))
		case "gz":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gz([]byte(record)))
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(record))
		}
	})
	sc, auth := memberReader(t, feed)
	if r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/feed?shape=text", Header: auth}); bytes.Contains(r.Body, []byte(legacyMember)) {
		t.Fatalf("GET /feed as text/plain: %d %s: the baseline leaks", r.Status, r.Body)
	}
	r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/feed?shape=gz", Header: auth})
	if body := gunzipped(r); bytes.Contains(body, []byte(legacyMember)) {
		t.Errorf("GET /feed as gzip-encoded text/plain: %d %q: the caller read the legacy plaintext of a class member it may not read", r.Status, body)
	}
}
