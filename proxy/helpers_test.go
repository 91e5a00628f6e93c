package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/strictyaml"
	"github.com/fieldseal/fieldseal/rewrite"
)

// testFieldMap is the field map every proxy test runs against, decoded the
// way the config package decodes it and compiled by the real fieldmap
// package.
const testFieldMap = sidecartest.UnitFieldMap

func testMap(t testing.TB) *fieldmap.Map {
	t.Helper()
	return compileFieldMap(t, testFieldMap, "test.yaml")
}

// compileFieldMap decodes and compiles a field-map document (classes and
// routes).
func compileFieldMap(t testing.TB, text, file string) *fieldmap.Map {
	t.Helper()
	spec := fieldmap.Spec{File: file}
	if _, err := strictyaml.Decode([]byte(text), file, &spec); err != nil {
		t.Fatalf("decode field map %s: %v", file, err)
	}
	spec.SealedPrefix = crypto.Prefix
	m, err := fieldmap.Compile(spec)
	if err != nil {
		t.Fatalf("compile field map %s: %v", file, err)
	}
	return m
}

// testRing is a ring of two random data keys, version 2 primary.
func testRing(t testing.TB) *crypto.Keyring { return sidecartest.Ring(t, 2) }

// keyHolder is the smallest KeySource: a ring that tests can set or clear.
type keyHolder struct {
	p atomic.Pointer[crypto.Keyring]
}

func (k *keyHolder) Keyring() *crypto.Keyring { return k.p.Load() }

// received is one request as the upstream saw it.
type received struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// recorder is a real HTTP upstream that records every request it receives,
// so tests can assert what reached the app (and that plaintext never did).
type recorder struct {
	mu   sync.Mutex
	reqs []received
	// respond writes the answer; nil answers 200 with the received body
	// echoed as JSON.
	respond func(w http.ResponseWriter, r *http.Request, body []byte)
	srv     *httptest.Server
}

func newRecorder(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, body []byte)) *recorder {
	rec := &recorder{respond: respond}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, received{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		rec.mu.Unlock()
		if rec.respond != nil {
			rec.respond(w, r, body)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) requests() []received {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]received(nil), rec.reqs...)
}

func (rec *recorder) url(t testing.TB) *url.URL {
	u, err := url.Parse(rec.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// harness is a proxy in front of a recorder, served over a real socket.
type harness struct {
	ring  *crypto.Keyring
	keys  *keyHolder
	up    *recorder
	proxy *Proxy
	front *httptest.Server
}

func newHarness(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, body []byte), mutate func(*Options)) *harness {
	t.Helper()
	h := &harness{ring: testRing(t), keys: &keyHolder{}}
	h.keys.p.Store(h.ring)
	h.up = newRecorder(t, respond)
	opts := Options{
		Upstream:         h.up.url(t),
		Routes:           testMap(t),
		Keys:             h.keys,
		Logger:           zerolog.Nop(),
		MaxBodyBytes:     64 << 10,
		MaxResponseBytes: 64 << 10,
	}
	if mutate != nil {
		mutate(&opts)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatalf("new proxy: %v", err)
	}
	h.proxy = p
	h.front = httptest.NewServer(p)
	t.Cleanup(func() {
		h.front.Close()
		p.CloseIdleConnections()
	})
	return h
}

// acceptSealed makes the harness's field map accept sealed values from
// every client (guard.sealed_writes: accept), for tests of what happens to
// a sealed value once it is let in.
func acceptSealed(t testing.TB) func(*Options) {
	return func(o *Options) {
		o.Routes = compileFieldMap(t, testFieldMap+"\nguard: {sealed_writes: accept}\n", "accept.yaml")
	}
}

// do sends a request through the proxy and returns status, headers and body.
func (h *harness) do(t testing.TB, method, path string, header http.Header, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := h.send(method, path, header, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// send is do without failing the test, for use from several goroutines:
// it returns the response (its body closed) and the body read.
func (h *harness) send(method, path string, header http.Header, body io.Reader) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, h.front.URL+path, body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.front.Client().Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, b, fmt.Errorf("read response: %w", err)
	}
	return resp, b, nil
}

// concurrently calls one(g, i) for i from 0 to each-1 on each of
// goroutines goroutines at once, and waits for them all. Every error one
// returns fails the test (t.Error is safe from any goroutine); the
// goroutine then goes on with its next call.
func concurrently(t *testing.T, goroutines, each int, one func(g, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := one(g, i); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// oneDocument is an upstream that stores one JSON document: every request
// but a GET replaces it with its body, and every request gets the stored
// document back as JSON. Its respond method is a newHarness respond func.
type oneDocument struct{ stored []byte }

func (d *oneDocument) respond(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodGet {
		d.stored = body
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(d.stored)
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

// rawType is the JSON type of a raw JSON value, by its first byte.
func rawType(raw string) crypto.JSONType {
	switch gjson.Parse(raw).Type {
	case gjson.String:
		return crypto.TypeString
	case gjson.Number:
		return crypto.TypeNumber
	case gjson.True, gjson.False:
		return crypto.TypeBool
	case gjson.Null:
		return crypto.TypeNull
	}
	if raw[0] == '[' {
		return crypto.TypeArray
	}
	return crypto.TypeObject
}

// sealFor seals a raw JSON value as the proxy would for class (and context).
func sealFor(t testing.TB, ring *crypto.Keyring, class, context, raw string) string {
	t.Helper()
	typ := rawType(raw)
	pt := []byte(raw)
	if typ == crypto.TypeString {
		pt = []byte(gjson.Parse(raw).Str)
	}
	s, err := ring.Seal(nil, pt, typ, crypto.ModeRandom, crypto.AAD(nil, class, context))
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	return string(s)
}

// openRaw opens a sealed JSON string value and returns the plaintext as raw
// JSON (strings re-quoted), the way the proxy restores it.
func openRaw(t testing.TB, ring *crypto.Keyring, class, context string, sealed gjson.Result) string {
	t.Helper()
	if sealed.Type != gjson.String || !crypto.IsSealed([]byte(sealed.Str)) {
		t.Fatalf("value %s is not a sealed string", sealed.Raw)
	}
	pt, typ, _, err := ring.Open(nil, []byte(sealed.Str), crypto.AAD(nil, class, context))
	if err != nil {
		t.Fatalf("open sealed value: %v", err)
	}
	if typ == crypto.TypeString {
		return string(rewrite.AppendString(nil, pt))
	}
	return string(pt)
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(t testing.TB, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("unmarshal %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("unmarshal %q: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// errorCode returns error.code of a proxy error body, failing if the body is
// not the documented error shape with a request id.
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	r := gjson.ParseBytes(body)
	if !gjson.ValidBytes(body) || !r.Get("error.code").Exists() || !r.Get("error.message").Exists() || r.Get("error.request_id").Str == "" {
		t.Fatalf("body is not a proxy JSON error: %s", body)
	}
	return r.Get("error.code").Str
}

// containsAny reports whether any of the needles occurs in hay.
func containsAny(hay []byte, needles ...string) bool {
	for _, n := range needles {
		if bytes.Contains(hay, []byte(n)) {
			return true
		}
	}
	return false
}
