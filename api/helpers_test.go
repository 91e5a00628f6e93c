package api

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/transform"
)

// testMap is the field map of the package's tests: customer records with an
// e-mail and a phone, a deterministic customer number, and a route whose
// values are bound to a tenant header.
func testMap(t testing.TB) *fieldmap.Map {
	t.Helper()
	return testMapWith(t, nil)
}

// testMapWith is testMap with mod applied to its spec before it compiles.
func testMapWith(t testing.TB, mod func(*fieldmap.Spec)) *fieldmap.Map {
	t.Helper()
	f := func(path, class string) fieldmap.FieldSpec {
		return fieldmap.FieldSpec{Path: path, Class: class, Line: 1}
	}
	p := func(s string) fieldmap.PathSpec { return fieldmap.PathSpec{Pattern: s, Line: 1} }
	spec := fieldmap.Spec{
		Classes: []fieldmap.ClassSpec{{Name: "email", Line: 1}, {Name: "phone", Line: 1}, {Name: "customer_no", Mode: fieldmap.ModeDeterministic, Line: 1}},
		Routes: []fieldmap.RouteSpec{
			{Name: "customers-write", Methods: []string{"POST"}, Paths: []fieldmap.PathSpec{p("/customers")}, Line: 1,
				Request:  []fieldmap.FieldSpec{f("email", "email"), f("phone", "phone")},
				Response: []fieldmap.FieldSpec{f("email", "email"), f("phone", "phone")}},
			{Name: "customers-list", Methods: []string{"GET"}, Paths: []fieldmap.PathSpec{p("/customers")}, Line: 1,
				Response: []fieldmap.FieldSpec{f("#.email", "email")}},
			{Name: "tenant-write", Methods: []string{"POST"}, Paths: []fieldmap.PathSpec{p("/tenants/{t}/customers")}, Line: 1,
				Request: []fieldmap.FieldSpec{f("email", "email")}, Context: fieldmap.ContextSpec{Header: "X-Tenant"}},
		},
	}
	if mod != nil {
		mod(&spec)
	}
	m, err := fieldmap.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// staticKeys is a KeySource holding one ring (nil: keys not loaded).
type staticKeys struct{ ring *crypto.Keyring }

func (k staticKeys) Keyring() *crypto.Keyring { return k.ring }

func testRing(t testing.TB) *crypto.Keyring {
	t.Helper()
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	k, err := crypto.NewDataKey(1, material, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, err := crypto.NewKeyring([]*crypto.DataKey{k}, 1, "test")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testCaller is a caller with one action for every class.
type testCaller struct {
	id     string
	action transform.Action
	write  bool
}

func (c testCaller) ID() string                     { return c.id }
func (c testCaller) Action(string) transform.Action { return c.action }
func (c testCaller) MayWrite(string) bool           { return c.write }

// sealedWriter is a testCaller that may also send values already sealed
// (transform.SealedWriter), as a policy's write_sealed caller.
type sealedWriter struct{ testCaller }

func (sealedWriter) MayWriteSealed(string) bool { return true }

// tokenAuth is a stand-in for PolicyAuthenticator in the handler's unit
// tests, which exercise the HTTP surface; real JWTs and policies are
// tested through the binary (e2e/api). Bearer tokens name callers; the
// token "refused" is forbidden outright.
type tokenAuth map[string]Caller

func (a tokenAuth) Authenticate(r *http.Request) (Caller, error) {
	tok, err := auth.BearerToken(r)
	if err != nil {
		return nil, err
	}
	if tok == "refused" {
		return nil, fmt.Errorf("caller is blocked: %w", transform.ErrForbidden)
	}
	c, ok := a[tok]
	if !ok {
		return nil, errors.New("unknown token")
	}
	return c, nil
}

var testCallers = tokenAuth{
	"full":   testCaller{"full", transform.ActionDecrypt, true},
	"writer": testCaller{"writer", transform.ActionSealed, true},
	"masker": testCaller{"masker", transform.ActionMask, true},
	"denied": testCaller{"denied", transform.ActionDeny, false},
	// replicator copies sealed values from another store.
	"replicator": sealedWriter{testCaller{"replicator", transform.ActionDecrypt, true}},
}

// testAPI is an API over testMap, a fresh ring and testCallers, served by
// an httptest server; events collects its audit events.
type testAPI struct {
	*API
	url    string
	events chan audit.Event
}

func newTestAPI(t testing.TB, mod func(*Options)) *testAPI {
	t.Helper()
	ta := &testAPI{events: make(chan audit.Event, 100)}
	opts := Options{
		Routes: testMap(t), Keys: staticKeys{testRing(t)}, Authenticator: testCallers,
		Observer: func(e audit.Event) { ta.events <- e },
	}
	if mod != nil {
		mod(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ta.API = a
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	ta.url = srv.URL
	return ta
}

// result is a decoded answer.
type result struct {
	Status int
	Header http.Header
	Raw    []byte
	Batch  struct {
		RequestID string       `json:"request_id"`
		Items     []itemResult `json:"items"`
	}
	Error struct {
		Code, Message string
		RequestID     string `json:"request_id"`
	}
}

type itemResult struct {
	Value    json.RawMessage `json:"value"`
	Document json.RawMessage `json:"document"`
	Error    *struct{ Code, Message string }
}

// post sends body to path as caller token ("" for none).
func (ta *testAPI) post(t testing.TB, path, token, body string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ta.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := result{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &r.Batch); err != nil {
			t.Fatalf("200 body is not a batch result: %v: %s", err, raw)
		}
	} else {
		var e struct{ Error *json.RawMessage }
		if err := json.Unmarshal(raw, &e); err != nil || e.Error == nil {
			t.Fatalf("%d body is not the error shape: %s", resp.StatusCode, raw)
		}
		_ = json.Unmarshal(*e.Error, &r.Error)
	}
	return r
}

// str decodes a JSON string answer.
func str(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is not a JSON string", raw)
	}
	return s
}

func compact(t testing.TB, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return b.String()
}
