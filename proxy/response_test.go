package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/transform"
)

// serve answers every request with a fixed status, content type and body.
func serve(status int, contentType, body string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// tamper flips one bit in the ciphertext part of a sealed value.
func tamper(t *testing.T, sealed string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, crypto.Prefix))
	if err != nil {
		t.Fatalf("sealed value is not prefix + base64url: %v", err)
	}
	raw[len(raw)-1] ^= 1
	return crypto.Prefix + base64.RawURLEncoding.EncodeToString(raw)
}

func TestResponseFieldsAreOpened(t *testing.T) {
	ring := testRing(t)
	seal := func(class, raw string) string { return sealFor(t, ring, class, "", raw) }
	one := `{"id":7,"email":"` + seal("email", `"ada@example.com"`) + `","phone":"` + seal("phone", `"+44 20 7946 0000"`) + `","address":{"street":"` + seal("street", `"12 Analytical Way"`) + `"}}`
	list := `[{"email":"` + seal("email", `"a@x.io"`) + `","phone":"legacy-phone"},{"email":"` + seal("email", `"b@x.io"`) + `"},{"name":"no email"}]`
	tests := []struct {
		name, path, contentType, body string
		status                        int
		want                          string // JSON the client must get
		mutate                        func(*Options)
	}{
		{name: "sealed fields of one document are decrypted", path: "/customers/7", body: one,
			want: `{"id":7,"email":"ada@example.com","phone":"+44 20 7946 0000","address":{"street":"12 Analytical Way"}}`},
		{name: "array paths open every element of a list", path: "/customers", body: list,
			want: `[{"email":"a@x.io","phone":"legacy-phone"},{"email":"b@x.io"},{"name":"no email"}]`},
		{name: "legacy plaintext passes through on read", path: "/customers/7", body: `{"email":"old@example.com","phone":12345}`,
			want: `{"email":"old@example.com","phone":12345}`},
		{name: "problem+json responses are transformed", path: "/customers/7", contentType: "application/problem+json", body: one,
			want: `{"id":7,"email":"ada@example.com","phone":"+44 20 7946 0000","address":{"street":"12 Analytical Way"}}`},
		{name: "non-2xx responses pass untouched", path: "/customers/7", status: 404, body: one, want: one},
		{name: "non-JSON responses pass untouched", path: "/customers/7", contentType: "text/plain", body: one, want: one},
		{name: "tampered value is left sealed in sealed mode", path: "/customers/7",
			body:   `{"email":"` + tamper(t, seal("email", `"ada@example.com"`)) + `"}`,
			want:   `{"email":"` + tamper(t, seal("email", `"ada@example.com"`)) + `"}`,
			mutate: func(o *Options) { o.LeaveSealedOnOpenError = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			status := tt.status
			if status == 0 {
				status = 200
			}
			h := newHarness(t, serve(status, ct, tt.body), tt.mutate)
			h.keys.p.Store(ring)
			resp, body := h.do(t, http.MethodGet, tt.path, nil, nil)
			if resp.StatusCode != status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
			}
			if strings.Contains(tt.name, "sealed mode") {
				// A tampered value opens to nothing: the client sees exactly
				// what the upstream sent, never a guess.
				if gjson.GetBytes(body, "email").Str != gjson.Get(tt.body, "email").Str {
					t.Errorf("tampered value changed: %s", body)
				}
				return
			}
			if !jsonEqual(t, string(body), tt.want) {
				t.Errorf("client got %s, want %s", body, tt.want)
			}
		})
	}
}

func TestResponseFailuresAnswer502(t *testing.T) {
	ring := testRing(t)
	other := testRing(t) // same key ids, different material: a foreign ring
	tests := []struct {
		name, body, wantCode string
		contentEncoding      string
	}{
		{name: "tampered value is a 502", body: `{"email":"` + tamper(t, sealFor(t, ring, "email", "", `"a@b.c"`)) + `"}`, wantCode: "open_failed"},
		{name: "value sealed under foreign keys is a 502", body: `{"email":"` + sealFor(t, other, "email", "", `"a@b.c"`) + `"}`, wantCode: "open_failed"},
		{name: "value sealed for another class is a 502", body: `{"email":"` + sealFor(t, ring, "phone", "", `"a@b.c"`) + `"}`, wantCode: "open_failed"},
		{name: "malformed sealed value is a 502", body: `{"email":"` + crypto.Prefix + `!!!"}`, wantCode: "open_failed"},
		{name: "invalid JSON from the upstream is a 502", body: `{"email":`, wantCode: "bad_upstream_response"},
		{name: "response larger than the limit is a 502", body: `{"x":"` + strings.Repeat("a", 70<<10) + `"}`, wantCode: "response_too_large"},
		{name: "undecodable gzip response is a 502", body: `not gzip`, contentEncoding: "gzip", wantCode: "bad_upstream_response"},
		{name: "undecodable zstd response is a 502", body: `not zstd`, contentEncoding: "zstd", wantCode: "bad_upstream_response"},
		{name: "a response in a coding the proxy does not decode is a 502", body: `{}`, contentEncoding: "compress", wantCode: "bad_upstream_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				w.Header().Set("Content-Type", "application/json")
				if tt.contentEncoding != "" {
					w.Header().Set("Content-Encoding", tt.contentEncoding)
				}
				_, _ = io.WriteString(w, tt.body)
			}, nil)
			h.keys.p.Store(ring)
			resp, body := h.do(t, http.MethodGet, "/customers/7", http.Header{"Accept-Encoding": {"gzip"}}, nil)
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("status %d, want 502: %s", resp.StatusCode, body)
			}
			if code := errorCode(t, body); code != tt.wantCode {
				t.Errorf("code %q, want %q", code, tt.wantCode)
			}
			if bytes.Contains(body, []byte(crypto.Prefix)) || bytes.Contains(body, []byte("a@b.c")) {
				t.Errorf("error body leaks the value: %s", body)
			}
		})
	}
}

func TestCompressedResponsesAreReencoded(t *testing.T) {
	ring := testRing(t)
	doc := `{"email":"` + sealFor(t, ring, "email", "", `"ada@example.com"`) + `","name":"Ada"}`
	tests := []struct {
		encoding string
		encode   func(io.Writer) io.WriteCloser
		decode   func(io.Reader) (io.Reader, error)
	}{
		{"gzip", func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"deflate", func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }, func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }},
		{"br", func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) }, func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
		{"zstd", func(w io.Writer) io.WriteCloser { zw, _ := zstd.NewWriter(w); return zw }, func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) }},
	}
	for _, tt := range tests {
		t.Run(tt.encoding+" response is decoded, opened and re-encoded with "+tt.encoding, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", tt.encoding)
				w.Header().Set("ETag", `"v1"`)
				zw := tt.encode(w)
				_, _ = io.WriteString(zw, doc)
				_ = zw.Close()
			}, nil)
			h.keys.p.Store(ring)
			// Asking for the encoding ourselves keeps the client transport
			// from decoding transparently, so the wire bytes are checked.
			resp, body := h.do(t, http.MethodGet, "/customers/7", http.Header{"Accept-Encoding": {tt.encoding}}, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ce := resp.Header.Get("Content-Encoding"); ce != tt.encoding {
				t.Fatalf("Content-Encoding %q, want %q", ce, tt.encoding)
			}
			if resp.ContentLength != int64(len(body)) {
				t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
			}
			if et := resp.Header.Get("ETag"); et != `W/"v1"` {
				t.Errorf("ETag %q, want the upstream's made weak", et)
			}
			r, err := tt.decode(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, string(plain), `{"email":"ada@example.com","name":"Ada"}`) {
				t.Errorf("decoded body %s", plain)
			}
		})
	}
}

// maskAll shows the first byte and stars.
type maskAll struct{}

func (maskAll) Mask(_ string, plaintext []byte, _ bool) string {
	if len(plaintext) == 0 {
		return ""
	}
	return string(plaintext[:1]) + "***"
}

func TestResponseActionsPerCaller(t *testing.T) {
	ring := testRing(t)
	sealedEmail := sealFor(t, ring, "email", "", `"ada@example.com"`)
	doc := `{"email":"` + sealedEmail + `","phone":"+44 legacy"}`
	tests := []struct {
		name   string
		action transform.Action
		check  func(t *testing.T, email, phone gjson.Result)
	}{
		{"decrypt caller gets plaintext", transform.ActionDecrypt, func(t *testing.T, email, phone gjson.Result) {
			if email.Str != "ada@example.com" || phone.Str != "+44 legacy" {
				t.Errorf("got %s %s", email.Raw, phone.Raw)
			}
		}},
		{"mask caller gets masked values, legacy ones too", transform.ActionMask, func(t *testing.T, email, phone gjson.Result) {
			if email.Str != "a***" || phone.Str != "+***" {
				t.Errorf("got %s %s", email.Raw, phone.Raw)
			}
		}},
		{"sealed caller gets ciphertext, legacy plaintext sealed on the way out", transform.ActionSealed, func(t *testing.T, email, phone gjson.Result) {
			if email.Str != sealedEmail {
				t.Errorf("email %s, want the stored sealed value", email.Raw)
			}
			if openRaw(t, ring, "phone", "", phone) != `"+44 legacy"` {
				t.Errorf("phone %s does not open to the legacy value", phone.Raw)
			}
		}},
		{"denied caller never sees plaintext", transform.ActionDeny, func(t *testing.T, email, phone gjson.Result) {
			if email.Str != sealedEmail || !crypto.IsSealed([]byte(phone.Str)) {
				t.Errorf("got %s %s", email.Raw, phone.Raw)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []RequestEvent
			h := newHarness(t, serve(200, "application/json", doc), func(o *Options) {
				o.Authenticator = staticAuth{caller: policyCaller{id: "c-" + tt.action.String(), actions: map[string]transform.Action{"email": tt.action, "phone": tt.action}}}
				o.Masker = maskAll{}
				o.Observer = func(e RequestEvent) { events = append(events, e) }
			})
			h.keys.p.Store(ring)
			resp, body := h.do(t, http.MethodGet, "/customers/7", nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			tt.check(t, gjson.GetBytes(body, "email"), gjson.GetBytes(body, "phone"))
			if len(events) != 1 || events[0].CallerID != "c-"+tt.action.String() || events[0].Route != "customer-read" || events[0].Outcome != "ok" {
				t.Fatalf("events %+v", events)
			}
			for _, f := range events[0].Fields {
				if f.Action != tt.action {
					t.Errorf("event field %+v, want action %s", f, tt.action)
				}
			}
		})
	}
}

func TestContextHeaderBindsValuesToTheRecord(t *testing.T) {
	var store oneDocument
	h := newHarness(t, store.respond, nil)
	tenant := func(id string) http.Header {
		hd := jsonHeader()
		hd.Set("X-Tenant-ID", id)
		return hd
	}
	resp, body := h.do(t, http.MethodPost, "/tenants/t1/notes", tenant("t1"), strings.NewReader(`{"note":"secret"}`))
	if resp.StatusCode != 200 || gjson.GetBytes(body, "note").Str != "secret" {
		t.Fatalf("write as t1: %d %s", resp.StatusCode, body)
	}
	if openRaw(t, h.ring, "note", "t1", gjson.GetBytes(store.stored, "note")) != `"secret"` {
		t.Fatalf("stored note does not open under context t1")
	}
	resp, body = h.do(t, http.MethodGet, "/tenants/t2/notes", tenant("t2"), nil)
	if resp.StatusCode != http.StatusBadGateway || errorCode(t, body) != "open_failed" {
		t.Errorf("reading t1's note as t2: %d %s", resp.StatusCode, body)
	}
}

func TestRangeIsDroppedOnProtectedReads(t *testing.T) {
	h := newHarness(t, serve(200, "application/json", `{"email":"legacy"}`), nil)
	h.do(t, http.MethodGet, "/customers/7", http.Header{"Range": {"bytes=0-3"}, "If-Range": {`"v1"`}}, nil)
	h.do(t, http.MethodGet, "/unprotected", http.Header{"Range": {"bytes=0-3"}}, nil)
	reqs := h.up.requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	if reqs[0].Header.Get("Range") != "" || reqs[0].Header.Get("If-Range") != "" {
		t.Errorf("protected read forwarded Range: %v", reqs[0].Header)
	}
	if reqs[1].Header.Get("Range") != "bytes=0-3" {
		t.Errorf("unprotected read lost Range: %v", reqs[1].Header)
	}
}
