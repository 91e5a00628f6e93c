package guard_test

// Reproductions of the thirteenth attack on the guard: a server-sent
// event whose data is JSON after a character a lenient parser skips
// (U+FEFF, which Json.NET takes as white space, and the record separator
// U+001E of a JSON text sequence), which fieldseal's own response sniff
// counts as JSON (sniffSpace) but copySSE passes unopened; and an event
// stream whose Content-Type EventSource reads as text/event-stream (the
// WHATWG MIME sniffing standard: duplicate parameters keep the first, and
// Fetch's "extract a MIME type" takes the last type of the field's
// comma-separated lines) where fieldseal, reading the first line and that
// with mime.ParseMediaType, sees another type or none, so it neither
// streams it nor finds JSON at its start; the same under an error status,
// which is never streamed. And header fields spelt with '.'
// ("X.HTTP.Method.Override", "X.Original.URL"), which PHP registers in
// $_SERVER with '.' read as '_' (built-in server, FrankenPHP). Each holds
// once fixed. Held: a type with a duplicate parameter. Held, not kept: a
// route's filter parameter after ';' (Rack 2's separator): the sidecar's
// ReverseProxy drops a query holding ';' before it reaches the
// application; a filter or email parameter name PHP reads through an
// invalid escape ("filter%00%zz"): refused (400); a _method query name
// likewise ("_method%00%zz"): the ReverseProxy drops pairs that do not
// decode.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// sseLenient answers a GET with legacyRecord as one server-sent event
// whose data starts with the prefix its "prefix" query parameter names:
// none (the baseline, opened), "bom" (U+FEFF, written by a serializer that
// emits a UTF-8 preamble per message) or "rs" (U+001E, application/json-seq
// records carried as events).
var sseLenient = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	prefix := map[string]string{"bom": "\uFEFF", "rs": "\x1e"}[r.URL.Query().Get("prefix")]
	_, _ = w.Write([]byte("data: " + prefix + legacyRecord + "\n\n"))
})

// R13-1: the GET route's response as a server-sent event whose data is the
// account after U+FEFF or U+001E. A .NET client that parses e.Data with
// Json.NET (JsonConvert.DeserializeObject skips U+FEFF as white space) reads
// the account; fieldseal, which looks for '{' or '[' after bytes.TrimSpace
// only, passes the data as not JSON: the caller reads the legacy plaintext
// the route seals for it. A plain response so prefixed is sniffed as JSON.
func TestAttackR13EventDataAfterLenientSpace(t *testing.T) {
	sc, auth := legacyReader(t, sseLenient, "request: [ {path: note, class: secret} ]", "")
	if r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1", Header: auth}); strings.Contains(string(r.Body), legacyContact) {
		t.Fatalf("GET /accounts/1 as an event: %d %q: the baseline leaks", r.Status, r.Body)
	}
	for _, p := range []string{"bom", "rs"} {
		// Data that starts like JSON after what lenient parsers skip and
		// does not parse strictly cuts the stream (an error here): the
		// record never reaches the client.
		r, err := sidecartest.Send(sc.URL, sidecartest.Req{Method: "GET", Path: "/accounts/1?prefix=" + p, Header: auth})
		if strings.Contains(string(r.Body), legacyContact) {
			t.Errorf("GET /accounts/1 as an event with data after %s: %d %q (%v): the caller read legacy plaintext the GET route seals for it", p, r.Status, r.Body, err)
		}
	}
}

// sseTyped answers a GET with legacyRecord as one server-sent event under
// the Content-Type its "ct" query parameter holds, one field line per
// line of it (text/event-stream when absent), under status 500 when its
// "status" parameter says so.
var sseTyped = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	ct := r.URL.Query().Get("ct")
	if ct == "" {
		ct = "text/event-stream"
	}
	w.Header()["Content-Type"] = strings.Split(ct, "\n")
	if r.URL.Query().Get("status") == "500" {
		w.WriteHeader(http.StatusInternalServerError)
	}
	_, _ = w.Write([]byte("data: " + legacyRecord + "\n\n"))
})

// R13-2: an event stream whose Content-Type is a list ending in
// text/event-stream, on one field line or two (a middleware that sets a
// default type and a handler that adds its own with Header().Add), is an
// event stream to EventSource in browsers (Fetch's "extract a MIME type"
// takes the last valid type of the combined lines) and to clients that do
// not look at the type. fieldseal reads the first line only, or cannot
// parse the list, takes the body for one of another type, sees "data:"
// rather than JSON at its start and forwards it unopened: the caller reads
// legacy plaintext the GET route seals for it.
func TestAttackR13EventStreamOddContentType(t *testing.T) {
	sc, auth := legacyReader(t, sseTyped, "request: [ {path: note, class: secret} ]", "")
	base := "/accounts/1?ct=" + url.QueryEscape("text/event-stream; charset=utf-8")
	if r := sc.Do(t, sidecartest.Req{Method: "GET", Path: base, Header: auth}); strings.Contains(string(r.Body), legacyContact) {
		t.Fatalf("GET %s: %d %q: the baseline leaks", base, r.Status, r.Body)
	}
	for _, ct := range []string{"text/plain, text/event-stream", "text/plain\ntext/event-stream"} {
		r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1?ct=" + url.QueryEscape(ct), Header: auth})
		if strings.Contains(string(r.Body), legacyContact) {
			t.Errorf("GET /accounts/1 as an event stream of type %q: %d %q: the caller read legacy plaintext the GET route seals for it", ct, r.Status, r.Body)
		}
	}
}

// R13-2b: the same event stream under status 500. Only 2xx is streamed;
// an error body is opened for a caller who may not read some class when it
// may be JSON, and an event stream does not start like JSON, so it passes
// as it came. fetch-based event-stream readers (@microsoft/fetch-event-source's
// default onopen checks the Content-Type only) parse it: the caller reads
// legacy plaintext the GET route seals for it.
func TestAttackR13EventStreamErrorStatus(t *testing.T) {
	sc, auth := legacyReader(t, sseTyped, "request: [ {path: note, class: secret} ]", "")
	r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1?status=500", Header: auth})
	if strings.Contains(string(r.Body), legacyContact) {
		t.Errorf("GET /accounts/1 as an event stream under status 500: %d %q: the caller read legacy plaintext the GET route seals for it", r.Status, r.Body)
	}
}

// phpHeader returns a request header as PHP hands it to the application in
// $_SERVER under a server that keeps every field name Go accepts (PHP's
// built-in server, FrankenPHP): the name upper-cased with '-' read as '_'
// after "HTTP_", then registered by php_register_variable_ex, which reads
// '.' and ' ' in a variable name as '_'. So "X.HTTP.Method.Override" is
// HTTP_X_HTTP_METHOD_OVERRIDE, which Symfony's ServerBag hands on as the
// X-HTTP-Method-Override header.
func phpHeader(r *http.Request, name string) string {
	php := strings.NewReplacer("-", "_", ".", "_", " ", "_")
	key := "HTTP_" + strings.ToUpper(php.Replace(name))
	for k, vs := range r.Header {
		if "HTTP_"+strings.ToUpper(php.Replace(k)) == key && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// R13-3: Symfony (and Laravel on it) takes a POST's method from the
// X-HTTP-Method-Override header, which under PHP a field named
// "X.HTTP.Method.Override" fills (phpHeader); fieldseal reads the dashed
// and the underscored spellings only (headerLookup, cgiEqual), so the POST
// is sealed under the POST route alone and the PUT route's contact.value
// reaches the application's PUT handler in plaintext.
func TestAttackR13DottedMethodOverrideHeader(t *testing.T) {
	overrideSpellings(t, phpHeader, "X_HTTP_METHOD_OVERRIDE", "X.HTTP.Method.Override", "X-HTTP.Method-Override")
}

// R13-4: the same for X-Original-URL, which Symfony before 2.7.49/3.4.14,
// Zend Framework 1 and Drupal 7 route by: "X.Original.URL" is
// HTTP_X_ORIGINAL_URL to PHP, so POST /index.php is the customers route
// to the application and an unlisted path to fieldseal, and the route's
// contact.value reaches the store in plaintext.
func TestAttackR13DottedOriginalURLHeader(t *testing.T) {
	body := `{"contact":{"value":"` + hidden + `"}}`
	a := newApp(t, func(r *http.Request, b []byte) []string {
		p := r.URL.Path
		if v := phpHeader(r, "X-Original-URL"); v != "" {
			if u, err := url.Parse(v); err == nil {
				p = u.Path
			}
		}
		if p != "/customers" {
			return nil
		}
		return anyTypeJSONApp(r, b)
	})
	sc := startApp(t, a, "")
	// The baseline: the underscored spelling is read as the route's path.
	sc.Do(t, sidecartest.Req{Method: "POST", Path: "/index.php", Header: map[string]string{"X_ORIGINAL_URL": "/customers"}, JSON: body})
	a.mustNotHold(t, hidden)
	for _, h := range []string{"X.Original.URL", "X-Original.URL"} {
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/index.php", Header: map[string]string{h: "/customers"}, JSON: body})
		t.Logf("POST /index.php with %s: /customers -> %d %s", h, r.Status, r.Body)
	}
	a.mustNotHold(t, hidden)
}
