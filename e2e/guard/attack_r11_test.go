package guard_test

// Reproductions of the eleventh attack on the guard: responses a client
// reads differently from fieldseal. A server-sent event stream is parsed by
// the HTML Living Standard's rules (section 9.2.6): a UTF-8 byte order mark
// at its start is dropped, and a line ends at CRLF, LF or a lone CR, so an
// EventSource reads "\uFEFFdata: {...}" and "id: 1\rdata: {...}" as data,
// where fieldseal, splitting lines at LF only and matching "data" at a
// line's first byte, passes them on as lines of another field (gzip-encoded
// and under "TEXT/EVENT-STREAM" too). An event stream on a path no route
// lists is not opened at all. And a response opened per caller carries
// "Vary: Authorization" only when this caller's bytes changed. Each holds
// once fixed. Held, not kept: NDJSON lines after a byte order mark or ended by lone
// CRs, and NDJSON on an unlisted path (cut, or 502); JSON responses with
// duplicate, escaped or other-case names at a route path; "GZIP",
// "gzip, identity" and "identity" codings; UTF-16 JSON, and JSON after a
// BOM or an XSSI prefix (502); route paths through objects keyed "0"
// where "#" expects an array (422); literal keys with '.', '*', '?'.
// Not kept: HTML and JSONP (?callback=, Express's res.jsonp) bodies carry
// legacy plaintext to any caller, as any format fieldseal does not parse.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// sseRecord answers a GET with legacyRecord as one server-sent event, in
// the shape its "shape" query parameter names (none: LF line endings, which
// fieldseal opens), so that a caller whose action for secret is sealed must
// get contact.value sealed whatever the shape.
var sseRecord = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	var s string
	switch r.URL.Query().Get("shape") {
	case "bom": // .NET's StreamWriter with Encoding.UTF8 writes its preamble
		s = "\uFEFFdata: " + legacyRecord + "\n\n"
	case "cr": // lone CR line endings, which EventSource reads as LF
		s = "id: 1\rdata: " + legacyRecord + "\r\r"
	default:
		s = "data: " + legacyRecord + "\n\n"
	}
	_, _ = w.Write([]byte(s))
})

// R11-1: a server-sent event stream on the GET route, whose data holds the
// account with legacy plaintext at contact.value. Sent with LF line
// endings, fieldseal seals it for a caller whose action for the class is
// sealed (legacyReader's baseline); with a byte order mark before the
// first field, or with lone CRs ending the lines, an EventSource (browsers,
// the eventsource npm package, sse.js) reads the same event data, and
// fieldseal forwards it untouched.
func TestAttackR11EventStreamLineEndings(t *testing.T) {
	sc, auth := legacyReader(t, sseRecord, "request: [ {path: note, class: secret} ]", "")
	for _, shape := range []string{"bom", "cr"} {
		r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1?shape=" + shape, Header: auth})
		if strings.Contains(string(r.Body), legacyContact) {
			t.Errorf("GET /accounts/1 as text/event-stream (%s): %d %q: the caller read legacy plaintext the GET route seals for it", shape, r.Status, r.Body)
		}
	}
}

// legacyMember is an e-mail address stored before fieldseal, in plaintext,
// under a class member ("email") that every response opens or seals for
// its caller, on every route.
const legacyMember = "legacy-member@example.com"

// memberReader starts a sidecar in front of up with the package's field
// map, for a caller whose action for every class is sealed, and returns it
// with the caller's Authorization header. Its baseline: a JSON answer of
// /feed, on no route, never hands that caller legacyMember.
func memberReader(t *testing.T, up http.Handler) (*sidecartest.Sidecar, map[string]string) {
	t.Helper()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	iss := sidecartest.NewIssuer(t)
	pol := sealedReader
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: srv.URL, FieldMap: fieldMap + pol + iss.AuthYAML("reader-app")})
	auth := map[string]string{"Authorization": "Bearer " + iss.Token(t, "reader-app", "")}
	plain := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/feed?shape=json", Header: auth})
	if plain.Status != http.StatusOK || strings.Contains(string(plain.Body), legacyMember) {
		t.Fatalf("GET /feed as JSON: %d %s, want 200 with email sealed for this caller (the baseline)", plain.Status, plain.Body)
	}
	return sc, auth
}

// R11-2: a feed on a path no route lists. Its JSON answer has the class
// member email sealed for a caller who may not read the class (every
// response that may be JSON is transformed for such a caller), but the
// same record as a server-sent event or an NDJSON line passes as it came:
// streams are opened on a route only, so an unlisted feed hands that
// caller the legacy plaintext of a class member.
func TestAttackR11UnlistedStream(t *testing.T) {
	record := `{"id":1,"email":"` + legacyMember + `"}`
	feed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("shape") {
		case "sse":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: " + record + "\n\n"))
		case "ndjson":
			w.Header().Set("Content-Type", "application/x-ndjson")
			_, _ = w.Write([]byte(record + "\n" + record + "\n")) // refused (502): held
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(record))
		}
	})
	sc, auth := memberReader(t, feed)
	for _, shape := range []string{"sse", "ndjson"} {
		r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/feed?shape=" + shape, Header: auth})
		if strings.Contains(string(r.Body), legacyMember) {
			t.Errorf("GET /feed as %s: %d %q: the caller read the legacy plaintext of a class member it may not read", shape, r.Status, r.Body)
		}
	}
}

// sharedCache is a shared HTTP cache in front of the sidecar, modelled on
// nginx's proxy_cache: it keys a stored 200 by its URL and the request's
// values of the fields the response's Vary names (RFC 9111 section 4.1),
// stores what Cache-Control lets a shared cache store (public, max-age or
// s-maxage) and, as nginx does, does not look at Authorization.
type sharedCache struct {
	srv   *httptest.Server
	mu    sync.Mutex
	vary  map[string][]string // URL -> the fields its stored response varies by
	store map[string]sidecartest.Resp
}

func newSharedCache(t *testing.T, sc *sidecartest.Sidecar) *sharedCache {
	c := &sharedCache{vary: map[string][]string{}, store: map[string]sidecartest.Resp{}}
	key := func(r *http.Request, fields []string) string {
		k := r.URL.RequestURI()
		for _, f := range fields {
			k += "\x00" + f + "=" + strings.Join(r.Header.Values(f), ",")
		}
		return k
	}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		got, hit := c.store[key(r, c.vary[r.URL.RequestURI()])]
		c.mu.Unlock()
		if !hit {
			hdr := map[string]string{}
			for k := range r.Header {
				hdr[k] = r.Header.Get(k)
			}
			got = sc.Do(t, sidecartest.Req{Method: r.Method, Path: r.URL.RequestURI(), Header: hdr})
			cc := strings.ToLower(got.Header.Get("Cache-Control"))
			if got.Status == http.StatusOK && !strings.Contains(cc, "private") && !strings.Contains(cc, "no-store") &&
				(strings.Contains(cc, "public") || strings.Contains(cc, "max-age")) {
				var fields []string
				for _, v := range got.Header.Values("Vary") {
					for f := range strings.SplitSeq(v, ",") {
						fields = append(fields, http.CanonicalHeaderKey(strings.TrimSpace(f)))
					}
				}
				c.mu.Lock()
				c.vary[r.URL.RequestURI()] = fields
				c.store[key(r, fields)] = got
				c.mu.Unlock()
			}
		}
		for k, vs := range got.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(got.Status)
		_, _ = w.Write(got.Body)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// R11-3: a response the sidecar opens per caller carries "Vary:
// Authorization" only when it changed it for this caller. An account with
// legacy plaintext at contact.value, answered with "Cache-Control: public,
// max-age=60", goes to a caller who decrypts every class unchanged and
// without Vary, so a shared cache in front of the sidecar (nginx's
// proxy_cache honours Vary and ignores Authorization) stores it for every
// caller, and hands it to the next one, whose action for the class is
// sealed, in plaintext. That caller's own answer is sealed and varies.
func TestAttackR11VaryOnlyWhenChanged(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write([]byte(legacyRecord))
	}))
	t.Cleanup(up.Close)
	iss := sidecartest.NewIssuer(t)
	fm := "\nclasses:\n  secret: { mode: random }\nroutes:" +
		accountsRoute("accounts-read", "GET", "response: [ {path: contact.value, class: secret} ]") + `policies:
  allow_anonymous: false
  default: {actions: {"*": sealed}, write: none}
  callers:
    - id: support
      match: {client_ids: [support-app]}
      actions: {secret: decrypt}
    - id: reader
      match: {client_ids: [reader-app]}
      actions: {secret: sealed}
`
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: up.URL, FieldMap: fm + iss.AuthYAML("support-app", "reader-app")})
	support := "Bearer " + iss.Token(t, "support-app", "")
	reader := "Bearer " + iss.Token(t, "reader-app", "")
	if r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/accounts/1", Header: map[string]string{"Authorization": reader}}); r.Status != http.StatusOK || strings.Contains(string(r.Body), legacyContact) {
		t.Fatalf("GET /accounts/1 as reader: %d %s, want contact.value sealed (the baseline)", r.Status, r.Body)
	}
	cache := newSharedCache(t, sc)
	get := func(auth string) (int, string, []byte) {
		req, _ := http.NewRequest("GET", cache.srv.URL+"/accounts/1", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.Join(resp.Header.Values("Vary"), ", "), b
	}
	st, vary, _ := get(support)
	t.Logf("support: %d, Vary %q", st, vary)
	if st, vary, b := get(reader); strings.Contains(string(b), legacyContact) {
		t.Errorf("GET /accounts/1 as reader after support, through a shared cache: %d (Vary %q) %s: the caller read legacy plaintext its policy seals", st, vary, b)
	}
}
