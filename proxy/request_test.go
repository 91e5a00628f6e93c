package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/transform"
)

const customer = `{"id":7,"name":"Ada","email":"ada@example.com","phone":"+44 20 7946 0000","address":{"street":"12 Analytical Way","city":"London"},"ssn":"123-45-6789"}`

var customerFields = []struct{ path, class string }{
	{"email", "email"}, {"phone", "phone"}, {"address.street", "street"}, {"ssn", "ssn"},
}

// assertSealedCustomer checks that every configured field of the document the
// upstream received is sealed, opens to the original value, and that the
// plaintext is nowhere in the body.
func assertSealedCustomer(t *testing.T, h *harness, got []byte, original string) {
	t.Helper()
	for _, f := range customerFields {
		want := gjson.Get(original, f.path)
		if !want.Exists() {
			continue
		}
		if plain := openRaw(t, h.ring, f.class, "", gjson.GetBytes(got, f.path)); !jsonEqual(t, plain, want.Raw) {
			t.Errorf("field %s opens to %s, want %s", f.path, plain, want.Raw)
		}
	}
	if containsAny(got, "ada@example.com", "20 7946", "Analytical", "123-45-6789") {
		t.Errorf("plaintext reached the upstream: %s", got)
	}
	if gjson.GetBytes(got, "name").Str != "Ada" || gjson.GetBytes(got, "address.city").Str != "London" {
		t.Errorf("unconfigured fields changed: %s", got)
	}
}

func TestRequestFieldsAreSealedBeforeForwarding(t *testing.T) {
	h := newHarness(t, nil, nil)
	resp, body := h.do(t, http.MethodPost, "/customers", jsonHeader(), strings.NewReader(customer))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	reqs := h.up.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(reqs))
	}
	got := reqs[0].Body
	assertSealedCustomer(t, h, got, customer)
	if cl := reqs[0].Header.Get("Content-Length"); cl != strconv.Itoa(len(got)) {
		t.Errorf("upstream Content-Length %q, body has %d bytes", cl, len(got))
	}
	// The echoed body comes back through the response transform decrypted.
	if !jsonEqual(t, string(body), customer) {
		t.Errorf("client got %s, want %s", body, customer)
	}
}

func TestEveryJSONTypeIsSealedAndRestored(t *testing.T) {
	var store oneDocument
	h := newHarness(t, store.respond, nil)
	doc := `{"s":"caf\u00e9 \"quoted\" \\ line\nnext","n":-12.5e3,"b":true,"z":null,"o":{"k":[1,{"x":"y"}]},"a":[1,"two",false,null],"keep":"as is"}`
	resp, body := h.do(t, http.MethodPost, "/types", jsonHeader(), strings.NewReader(doc))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("write: status %d: %s", resp.StatusCode, body)
	}
	for _, p := range []string{"s", "n", "b", "z", "o", "a"} {
		v := gjson.GetBytes(store.stored, p)
		if plain := openRaw(t, h.ring, "profile", "", v); !jsonEqual(t, plain, gjson.Get(doc, p).Raw) {
			t.Errorf("stored %s opens to %s, want %s", p, plain, gjson.Get(doc, p).Raw)
		}
	}
	resp, body = h.do(t, http.MethodGet, "/types", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("read: status %d: %s", resp.StatusCode, body)
	}
	if !jsonEqual(t, string(body), doc) {
		t.Errorf("read back %s, want %s", body, doc)
	}
}

func TestSealedValuesFromClientsAreRefusedByDefault(t *testing.T) {
	h := newHarness(t, nil, nil)
	sealedEmail := sealFor(t, h.ring, "email", "", `"ada@example.com"`)
	for name, doc := range map[string]string{
		"in a protected field":    `{"email":"` + sealedEmail + `"}`,
		"in an unprotected field": `{"notes":"` + sealedEmail + `"}`,
	} {
		for _, path := range []string{"/customers/7", "/unlisted"} {
			resp, body := h.do(t, http.MethodPut, path, jsonHeader(), strings.NewReader(doc))
			if resp.StatusCode != http.StatusUnprocessableEntity || errorCode(t, body) != "sealed_value_refused" {
				t.Errorf("%s on %s: %d %s", name, path, resp.StatusCode, body)
			}
		}
	}
	if n := len(h.up.requests()); n != 0 {
		t.Fatalf("the upstream received %d refused writes", n)
	}
}

func TestAlreadySealedValuesAreForwardedUnchanged(t *testing.T) {
	h := newHarness(t, nil, acceptSealed(t))
	sealedEmail := sealFor(t, h.ring, "email", "", `"ada@example.com"`)
	doc := `{"email":"` + sealedEmail + `","phone":"+44 20 7946 0000"}`
	resp, body := h.do(t, http.MethodPut, "/customers/7", jsonHeader(), strings.NewReader(doc))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	got := h.up.requests()[0].Body
	if e := gjson.GetBytes(got, "email").Str; e != sealedEmail {
		t.Errorf("already sealed email was re-sealed: got %s", e)
	}
	if !crypto.IsSealed([]byte(gjson.GetBytes(got, "phone").Str)) {
		t.Errorf("phone not sealed: %s", got)
	}
}

func TestEmptyBodyOnWriteRoutePasses(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   io.Reader
		header http.Header
	}{
		{"delete without body is forwarded", http.MethodDelete, nil, nil},
		{"patch with empty body is forwarded", http.MethodPatch, strings.NewReader(""), nil},
		{"chunked empty body is forwarded", http.MethodPut, io.MultiReader(), jsonHeader()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request, body []byte) { w.WriteHeader(http.StatusNoContent) }, nil)
			resp, body := h.do(t, tt.method, "/customers/7", tt.header, tt.body)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			reqs := h.up.requests()
			if len(reqs) != 1 || len(reqs[0].Body) != 0 {
				t.Fatalf("upstream saw %d requests (%v), want one with an empty body", len(reqs), reqs)
			}
		})
	}
}

// denyEmail is a caller whose policy denies the email class.
type policyCaller struct {
	id      string
	actions map[string]transform.Action
	write   bool
}

func (c policyCaller) ID() string                           { return c.id }
func (c policyCaller) Action(class string) transform.Action { return c.actions[class] }
func (c policyCaller) MayWrite(string) bool                 { return c.write }

type staticAuth struct {
	caller Caller
	err    error
}

func (a staticAuth) Authenticate(*http.Request) (Caller, error) { return a.caller, a.err }

func TestFailedRequestsForwardNothing(t *testing.T) {
	big := `{"email":"` + strings.Repeat("a", 70<<10) + `"}`
	gz := func(s string) io.Reader {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return &b
	}
	allDecrypt := map[string]transform.Action{"email": transform.ActionDecrypt, "phone": transform.ActionDecrypt, "street": transform.ActionDecrypt, "ssn": transform.ActionDecrypt}
	tests := []struct {
		name       string
		path       string
		header     http.Header
		body       func(h *harness) io.Reader
		mutate     func(*Options)
		noKeys     bool
		wantStatus int
		wantCode   string
	}{
		{name: "invalid JSON is refused", header: jsonHeader(), body: str(`{"email":"a@b.c",`),
			wantStatus: 400, wantCode: "invalid_json"},
		{name: "a body that is not JSON on a route with request paths is refused", header: http.Header{"Content-Type": {"text/plain"}}, body: str("email ada@example.com"),
			wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "missing content type with a body that is not JSON is refused", body: str("<email>ada@example.com</email>"),
			wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "a form body on a route with request paths is refused", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: str("email=ada%40example.com"),
			wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "body larger than the limit is refused", header: jsonHeader(), body: str(big),
			wantStatus: 413, wantCode: "body_too_large"},
		{name: "chunked body larger than the limit is refused", header: jsonHeader(),
			body:       func(*harness) io.Reader { return io.MultiReader(strings.NewReader(big)) },
			wantStatus: 413, wantCode: "body_too_large"},
		{name: "gzip body that inflates past the limit is refused",
			header:     http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}},
			body:       func(*harness) io.Reader { return gz(big) },
			wantStatus: 413, wantCode: "body_too_large"},
		{name: "corrupt gzip body is refused",
			header:     http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}},
			body:       str("not gzip at all"),
			wantStatus: 400, wantCode: "invalid_json"},
		{name: "unknown content encoding is refused",
			header:     http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"compress"}},
			body:       str(customer),
			wantStatus: 415, wantCode: "unsupported_encoding"},
		{name: "no key ring answers 503", header: jsonHeader(), body: str(customer), noKeys: true,
			wantStatus: 503, wantCode: "keys_unavailable"},
		{name: "missing context header is refused", path: "/tenants/t1/notes", header: jsonHeader(), body: str(`{"note":"x"}`),
			wantStatus: 400, wantCode: "missing_context"},
		{name: "sealed value of another class is refused", header: jsonHeader(),
			body: func(h *harness) io.Reader {
				return strings.NewReader(`{"email":"` + sealFor(t, h.ring, "phone", "", `"ada@example.com"`) + `"}`)
			},
			mutate:     acceptSealed(t),
			wantStatus: 400, wantCode: "invalid_sealed_value"},
		{name: "sealed value from a client that may not send one is refused", header: jsonHeader(),
			body: func(h *harness) io.Reader {
				return strings.NewReader(`{"email":"` + sealFor(t, h.ring, "email", "", `"ada@example.com"`) + `"}`)
			},
			wantStatus: 422, wantCode: "sealed_value_refused"},
		{name: "masked value sent back is refused", header: jsonHeader(), body: str(`{"email":"fsm:a***@example.com"}`),
			wantStatus: 422, wantCode: "masked_value"},
		{name: "escaped masked value sent back is refused", header: jsonHeader(), body: str(`{"email":"\u0066sm:***"}`),
			wantStatus: 422, wantCode: "masked_value"},
		{name: "unauthenticated caller is refused", header: jsonHeader(), body: str(customer),
			mutate:     func(o *Options) { o.Authenticator = staticAuth{err: errors.New("token expired")} },
			wantStatus: 401, wantCode: "unauthenticated"},
		{name: "caller denied a present class is refused", header: jsonHeader(), body: str(customer),
			mutate: func(o *Options) {
				o.Authenticator = staticAuth{caller: policyCaller{id: "c1", write: true, actions: map[string]transform.Action{"email": transform.ActionDeny, "phone": transform.ActionDecrypt, "street": transform.ActionDecrypt, "ssn": transform.ActionDecrypt}}}
			},
			wantStatus: 403, wantCode: "forbidden"},
		{name: "caller that may not write a class is refused", header: jsonHeader(), body: str(customer),
			mutate: func(o *Options) {
				o.Authenticator = staticAuth{caller: policyCaller{id: "reader", actions: allDecrypt}}
			},
			wantStatus: 403, wantCode: "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, tt.mutate)
			if tt.noKeys {
				h.keys.p.Store(nil)
			}
			path := tt.path
			if path == "" {
				path = "/customers"
			}
			resp, body := h.do(t, http.MethodPost, path, tt.header, tt.body(h))
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if code := errorCode(t, body); code != tt.wantCode {
				t.Errorf("error code %q, want %q", code, tt.wantCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("error content type %q", ct)
			}
			if n := len(h.up.requests()); n != 0 {
				t.Errorf("upstream saw %d requests, want none", n)
			}
			if containsAny(body, "ada@example.com", strings.Repeat("a", 100)) {
				t.Errorf("error body echoes a field value: %s", body)
			}
		})
	}
}

func str(s string) func(*harness) io.Reader {
	return func(*harness) io.Reader { return strings.NewReader(s) }
}

func TestCompressedRequestsAreForwardedIdentityEncoded(t *testing.T) {
	tests := []struct {
		name     string
		encoding string
		compress func(w io.Writer) io.WriteCloser
	}{
		{"gzip body", "gzip", func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }},
		{"deflate (zlib) body", "deflate", func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }},
		{"raw deflate body", "deflate", func(w io.Writer) io.WriteCloser { z, _ := flate.NewWriter(w, 5); return z }},
		{"brotli body", "br", func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) }},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is decoded, sealed and forwarded without Content-Encoding", func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request, body []byte) { w.WriteHeader(http.StatusCreated) }, nil)
			var b bytes.Buffer
			zw := tt.compress(&b)
			_, _ = zw.Write([]byte(customer))
			_ = zw.Close()
			header := jsonHeader()
			header.Set("Content-Encoding", tt.encoding)
			resp, body := h.do(t, http.MethodPost, "/customers", header, &b)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			got := h.up.requests()[0]
			if ce := got.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("upstream got Content-Encoding %q", ce)
			}
			if cl := got.Header.Get("Content-Length"); cl != strconv.Itoa(len(got.Body)) {
				t.Errorf("upstream Content-Length %q for %d bytes", cl, len(got.Body))
			}
			assertSealedCustomer(t, h, got.Body, customer)
		})
	}
}

func TestRequestRouteMatchingFailsClosed(t *testing.T) {
	tests := []struct {
		name, method, path string
		header             http.Header
	}{
		{"doubled slash still matches the route", http.MethodPost, "//customers", nil},
		{"dot segment still matches the route", http.MethodPost, "/x/../customers", nil},
		{"trailing slash still matches the route", http.MethodPost, "/customers/", nil},
		{"method override header is honoured", http.MethodGet, "/customers", http.Header{"X-Http-Method-Override": {"POST"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			header := jsonHeader()
			for k, v := range tt.header {
				header[k] = v
			}
			req, err := http.NewRequest(tt.method, h.front.URL, strings.NewReader(customer))
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Path = tt.path // the client sends it as written (no cleaning)
			req.Header = header
			resp, err := h.front.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			reqs := h.up.requests()
			if len(reqs) != 1 {
				t.Fatalf("status %d; upstream saw %d requests", resp.StatusCode, len(reqs))
			}
			assertSealedCustomer(t, h, reqs[0].Body, customer)
		})
	}
}

// TestDuplicateAndEscapedKeysNeverLeakPlaintext covers the parser
// differential: apps may read the last of duplicate keys, or decode escaped
// key names. rewrite matches every occurrence by decoded key; this pins that
// the proxy relies on it end to end (seals every occurrence, or refuses).
func TestDuplicateAndEscapedKeysNeverLeakPlaintext(t *testing.T) {
	tests := []struct{ name, body string }{
		{"duplicate top-level key", `{"email":"first@example.com","email":"second@example.com"}`},
		{"duplicate parent object", `{"address":{"street":"first street"},"address":{"street":"second street"}}`},
		{"escaped key name", `{"em\u0061il":"first@example.com"}`},
		{"escaped duplicate of a key", `{"email":"first@example.com","em\u0061il":"second@example.com"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is sealed everywhere or refused", func(t *testing.T) {
			h := newHarness(t, nil, nil)
			resp, body := h.do(t, http.MethodPost, "/customers", jsonHeader(), strings.NewReader(tt.body))
			reqs := h.up.requests()
			switch {
			case resp.StatusCode == http.StatusBadRequest:
				if code := errorCode(t, body); code != "ambiguous_fields" {
					t.Errorf("code %q", code)
				}
				if len(reqs) != 0 {
					t.Errorf("refused but forwarded")
				}
			case resp.StatusCode == http.StatusOK && len(reqs) == 1:
				if containsAny(reqs[0].Body, "first", "second") {
					t.Errorf("plaintext reached the upstream: %s", reqs[0].Body)
				}
			default:
				t.Errorf("status %d, %d upstream requests: %s", resp.StatusCode, len(reqs), body)
			}
		})
	}
}

func TestSetMapSwapsRoutesForNewRequests(t *testing.T) {
	h := newHarness(t, nil, nil)
	m := compileFieldMap(t, strings.Replace(testFieldMap, `["/customers", "/customers/{id}"]`, `["/clients"]`, 1), "reload.yaml")
	h.proxy.SetMap(m)
	h.do(t, http.MethodPost, "/customers", jsonHeader(), strings.NewReader(`{"email":"now-unprotected@example.com"}`))
	h.do(t, http.MethodPost, "/clients", jsonHeader(), strings.NewReader(`{"email":"now-protected@example.com"}`))
	reqs := h.up.requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	if !containsAny(reqs[0].Body, "now-unprotected") {
		t.Errorf("old route still transformed: %s", reqs[0].Body)
	}
	if containsAny(reqs[1].Body, "now-protected") {
		t.Errorf("new route not transformed: %s", reqs[1].Body)
	}
}

// backfillCaller may send sealed values of every class (write_sealed: all).
type backfillCaller struct{ policyCaller }

func (backfillCaller) MayWriteSealed(string) bool { return true }

func TestSealedWritesFollowTheCallersPolicy(t *testing.T) {
	decrypt := map[string]transform.Action{"email": transform.ActionDecrypt, "phone": transform.ActionDecrypt, "street": transform.ActionDecrypt, "ssn": transform.ActionDecrypt}
	sealed := map[string]transform.Action{"email": transform.ActionSealed, "phone": transform.ActionSealed, "street": transform.ActionSealed, "ssn": transform.ActionSealed}
	tests := []struct {
		name   string
		caller Caller
		want   int
	}{
		{"a caller who reads plaintext may not", policyCaller{id: "app", actions: decrypt, write: true}, http.StatusUnprocessableEntity},
		{"a caller who reads the class sealed may not (the least-privilege default would let anyone)", policyCaller{id: "replica", actions: sealed, write: true}, http.StatusUnprocessableEntity},
		{"a caller with write_sealed may", backfillCaller{policyCaller{id: "backfill", actions: decrypt, write: true}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, func(o *Options) { o.Authenticator = staticAuth{caller: tt.caller} })
			email := sealFor(t, h.ring, "email", "", `"ada@example.com"`)
			resp, body := h.do(t, http.MethodPut, "/customers/7", jsonHeader(), strings.NewReader(`{"email":"`+email+`"}`))
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			reqs := h.up.requests()
			switch {
			case tt.want == http.StatusOK && (len(reqs) != 1 || gjson.GetBytes(reqs[0].Body, "email").Str != email):
				t.Errorf("the upstream received %d requests, want the sealed value kept", len(reqs))
			case tt.want != http.StatusOK && len(reqs) != 0:
				t.Errorf("a refused write reached the upstream")
			}
		})
	}
}
