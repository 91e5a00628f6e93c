// Package guard_test runs issue 11's promise end to end: the fieldseal
// binary in front of small applications that read requests the way common
// frameworks do (internal/sidecartest), and for every request shape that
// used to carry plaintext past the field map, the test checks what the
// application received and stored, not only what fieldseal answered.
package guard_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

var bin string

func TestMain(m *testing.M) {
	os.Exit(sidecartest.RunWithBinary(m, &bin))
}

// fieldMap protects e-mail addresses and phone numbers by the member names
// that hold them, and one value whose name says nothing (contact.value),
// only on the customers routes.
const fieldMap = `
classes:
  email:  { mode: random, keys: [email, emailAddress, e_mail] }
  phone:  { mode: random, keys: [phone, mobile] }
  street: { mode: random, keys: [street] }
  secret: { mode: random }
routes:
  - name: customers-write
    methods: [POST, PUT, PATCH]
    paths: [/customers, "/customers/{id}"]
    request:  [ {path: contact.value, class: secret}, {path: address.street, class: street} ]
    response: [ {path: contact.value, class: secret} ]
  - name: customers-read
    methods: [GET]
    paths: ["/customers/{id}"]
    response: [ {path: contact.value, class: secret} ]
`

const (
	alice  = "alice@example.com"
	phone  = "+82-10-1234-5678"
	hidden = "s3cr3t-contact"
)

func start(t *testing.T, fw sidecartest.Framework, extra string) (*sidecartest.Store, *sidecartest.Sidecar) {
	t.Helper()
	store := sidecartest.NewStore(t, fw)
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.URL(), FieldMap: fieldMap + extra})
	return store, sc
}

// sendWithout5xx starts a sidecar in front of a new fw store, sends req
// through it and fails on a 5xx answer.
func sendWithout5xx(t *testing.T, fw sidecartest.Framework, req sidecartest.Req) (*sidecartest.Store, sidecartest.Resp) {
	t.Helper()
	store, sc := start(t, fw, "")
	resp := sc.Do(t, req)
	if resp.Status >= 500 {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	return store, resp
}

func TestClassMembersAreSealedOnEveryRequestShape(t *testing.T) {
	tests := []struct {
		name string
		fw   sidecartest.Framework
		req  sidecartest.Req
	}{
		{"a method override header on a POST", sidecartest.Express,
			sidecartest.Req{Method: "POST", Path: "/customers", Header: map[string]string{"X-HTTP-Method-Override": "FOO"}, JSON: `{"email":"` + alice + `"}`}},
		{"a nested route nobody listed", sidecartest.Express,
			sidecartest.Req{Method: "POST", Path: "/x/1/customers", JSON: `{"email":"` + alice + `","phone":"` + phone + `"}`}},
		{"a batch endpoint", sidecartest.Express,
			sidecartest.Req{Method: "POST", Path: "/batch", JSON: `{"requests":[{"method":"POST","url":"/customers","body":{"emailAddress":"` + alice + `"}}]}`}},
		{"upper-case member names", sidecartest.GoJSON,
			sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"EMAIL":"` + alice + `","Phone":"` + phone + `"}`}},
		{"a member one level deeper", sidecartest.GoJSON,
			sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"contact":{"email":"` + alice + `"}}`}},
		{"a member name written with JSON escapes", sidecartest.GoJSON,
			sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"\u0065mail":"` + alice + `"}`}},
		{"a value written with JSON escapes", sidecartest.GoJSON,
			sidecartest.Req{Method: "POST", Path: "/anything", JSON: `{"email":"\u0061lice@example.com"}`}},
		{"a JSON body labelled text/plain", sidecartest.GoJSON,
			sidecartest.Req{Method: "POST", Path: "/customers", Header: map[string]string{"Content-Type": "text/plain"}, Body: []byte(`{"email":"` + alice + `"}`)}},
		{"a JSON body with no content type", sidecartest.GoJSON,
			sidecartest.Req{Method: "PUT", Path: "/other/1", Body: []byte(` {"mobile":"` + phone + `"}`)}},
		{"a GET with a body", sidecartest.GoJSON,
			sidecartest.Req{Method: "GET", Path: "/customers", JSON: `{"email":"` + alice + `"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, resp := sendWithout5xx(t, tt.fw, tt.req)
			if len(store.Received()) == 0 {
				t.Fatalf("nothing reached the store (status %d %s): the guard must seal, not refuse, by default", resp.Status, resp.Body)
			}
			store.MustNotHold(t, alice, phone)
		})
	}
}

func TestRouteOnlyFieldsAreFoundUnderEveryPathSpelling(t *testing.T) {
	body := `{"contact":{"value":"` + hidden + `"}}`
	tests := []struct {
		name   string
		fw     sidecartest.Framework
		method string
		path   string
		id     string // the id the store keeps the record under, "" for a POST
	}{
		{"a servlet path parameter", sidecartest.Servlet, "POST", "/customers;jsessionid=ABC123", ""},
		{"a path parameter on the id", sidecartest.Servlet, "PUT", "/customers/7;v=1", "7"},
		{"an escaped slash inside an id", sidecartest.SlashID, "PUT", "/customers/a%2Fb", "a%2Fb"},
		{"an upper-case path", sidecartest.Express, "POST", "/CUSTOMERS", ""},
		{"dot segments", sidecartest.GoJSON, "POST", "/x/../customers", ""},
		{"a lower-case method", sidecartest.GoJSON, "post", "/customers", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, sc := start(t, tt.fw, "")
			resp := sc.Do(t, sidecartest.Req{Method: tt.method, Path: tt.path, JSON: body})
			if resp.Status >= 400 && resp.Status != http.StatusNotFound {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			store.MustNotHold(t, hidden)
			if len(store.Received()) == 0 {
				t.Fatal("nothing reached the store")
			}
		})
	}
}

func TestRequestsTheAppMayReadDifferentlyAreRefused(t *testing.T) {
	utf16le := func(s string) []byte {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		return b
	}
	tests := []struct {
		name   string
		req    sidecartest.Req
		status int
		code   string
	}{
		{"a JSON body in utf-7",
			sidecartest.Req{Method: "POST", Path: "/customers", Header: map[string]string{"Content-Type": "application/json; charset=utf-7"}, Body: []byte(`{"+AGU-mail":"alice+AEA-example.com"}`)},
			http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"a JSON body in utf-16",
			sidecartest.Req{Method: "POST", Path: "/elsewhere", Header: map[string]string{"Content-Type": "application/json; charset=utf-16le"}, Body: utf16le(`{"email":"` + alice + `"}`)},
			http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"a string where the map expects an object",
			sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"address":"1 Main st ` + hidden + `"}`},
			http.StatusUnprocessableEntity, "shape_mismatch"},
		{"a document wrapped in an array on a mapped route",
			sidecartest.Req{Method: "POST", Path: "/customers", JSON: `[{"contact":{"value":"` + hidden + `"}}]`},
			http.StatusUnprocessableEntity, "shape_mismatch"},
		{"a document nested a mebibyte deep",
			sidecartest.Req{Method: "POST", Path: "/anything", Header: map[string]string{"Content-Type": "application/json"}, Body: bytes.Repeat([]byte("["), 1<<20)},
			http.StatusBadRequest, "too_deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, sc := start(t, sidecartest.Express, "")
			resp := sc.Do(t, tt.req)
			if resp.Status != tt.status || sidecartest.ErrorCode(resp.Body) != tt.code {
				t.Fatalf("got %d %s, want %d %s", resp.Status, resp.Body, tt.status, tt.code)
			}
			if n := len(store.Received()); n != 0 {
				t.Fatalf("the store received %d requests", n)
			}
			if id := resp.Header.Get("X-Request-Id"); id == "" || !bytes.Contains(resp.Body, []byte(id)) {
				t.Errorf("the error does not carry the request id: %s", resp.Body)
			}
		})
	}
}

func TestUnmatchedRequestsWithClassMembersCanBeRefused(t *testing.T) {
	store, sc := start(t, sidecartest.Express, "guard:\n  unmatched: refuse\n")
	resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/x/1/customers", JSON: `{"Email":"` + alice + `"}`})
	if resp.Status != http.StatusUnprocessableEntity || sidecartest.ErrorCode(resp.Body) != "unmatched_class_member" {
		t.Fatalf("got %d %s", resp.Status, resp.Body)
	}
	if len(store.Received()) != 0 {
		t.Fatal("the refused request reached the store")
	}
	if n := sc.Metric(t, "fieldseal_guard_requests_refused_total", map[string]string{"reason": "unmatched_class_member"}); n != 1 {
		t.Errorf("refusals counted: %v, want 1", n)
	}
	// A body with no class member still passes on an unlisted route.
	sc.DoWant(t, http.StatusNotFound, sidecartest.Req{Method: "POST", Path: "/x/1/notes", JSON: `{"text":"hello"}`})
	if len(store.Received()) != 1 {
		t.Fatal("a harmless body did not reach the store")
	}
}

func TestMembersSealedOutsideRoutesAreOpenedAndCounted(t *testing.T) {
	store, sc := start(t, sidecartest.Express, "")
	resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/tenants/1/customers", JSON: `{"name":"A","email":"` + alice + `"}`})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	store.MustNotHold(t, alice)
	var rec map[string]any
	if err := json.Unmarshal(resp.Body, &rec); err != nil || rec["email"] != alice {
		t.Fatalf("the echo was not opened for the caller: %s", resp.Body)
	}
	stored := store.Record("1")
	if s, _ := stored["email"].(string); !strings.HasPrefix(s, "fs1:") {
		t.Fatalf("stored email = %v, want a sealed value", stored["email"])
	}
	// Read back on a route nobody listed: opened wherever it appears.
	resp = sc.Do(t, sidecartest.Req{Method: "GET", Path: "/tenants/1/customers"})
	if !bytes.Contains(resp.Body, []byte(alice)) {
		t.Fatalf("list on an unlisted route was not opened: %s", resp.Body)
	}
	if n := sc.Metric(t, "fieldseal_guard_members_sealed_total", map[string]string{"class": "email"}); n != 1 {
		t.Errorf("members sealed outside routes: %v, want 1", n)
	}
	sc.AuditLines(t, `"route":"unmatched"`, `"email"`)
}

func TestFormBodiesNeverCarryClassMembersInPlaintext(t *testing.T) {
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("name", "A")
	_ = mw.WriteField("Email", alice)
	fw, _ := mw.CreateFormFile("avatar", "a.png")
	_, _ = fw.Write([]byte("\x89PNG binary"))
	_ = mw.Close()
	tests := []struct {
		name string
		req  sidecartest.Req
	}{
		{"urlencoded", sidecartest.Req{Method: "POST", Path: "/customers", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			Body: []byte("name=A&email=" + url.QueryEscape(alice) + "&phone=" + url.QueryEscape(phone))}},
		{"multipart", sidecartest.Req{Method: "POST", Path: "/customers", Header: map[string]string{"Content-Type": mw.FormDataContentType()}, Body: mp.Bytes()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := sendWithout5xx(t, sidecartest.Express, tt.req)
			store.MustNotHold(t, alice, phone)
		})
	}
}

func TestSealedValuesFromElsewhereAreRefusedOnWrite(t *testing.T) {
	store, sc := start(t, sidecartest.GoJSON, "")
	sc.DoWant(t, http.StatusCreated, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"email":"` + alice + `"}`})
	sealed, _ := store.Record("1")["email"].(string)
	if !strings.HasPrefix(sealed, "fs1:") {
		t.Fatalf("stored %q", sealed)
	}
	before := len(store.Received())
	resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"email":"` + sealed + `"}`})
	if resp.Status != http.StatusUnprocessableEntity || sidecartest.ErrorCode(resp.Body) != "sealed_value_refused" {
		t.Fatalf("replayed sealed value: %d %s", resp.Status, resp.Body)
	}
	if len(store.Received()) != before {
		t.Fatal("the refused write reached the store")
	}
}

func TestHeadIsProtectedLikeGet(t *testing.T) {
	_, sc := start(t, sidecartest.Express, "")
	sc.Do(t, sidecartest.Req{Method: "HEAD", Path: "/customers/1"})
	sc.AuditLines(t, `"route":"customers-read"`, `"method":"HEAD"`)
}

func TestH2CUpgradesAreIgnoredEverywhere(t *testing.T) {
	store, sc := start(t, sidecartest.H2C, "")
	for _, path := range []string{"/customers", "/unlisted"} {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(sc.URL, "http://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		body := `{"email":"` + alice + `"}`
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		conn.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols || resp.StatusCode >= 500 {
			t.Fatalf("%s: an h2c upgrade was answered %d", path, resp.StatusCode)
		}
	}
	// Served over HTTP/1.1 as if the upgrade was not asked: guarded, and
	// the store never saw an upgrade.
	store.MustNotHold(t, alice)
	for _, r := range store.Received() {
		if r.Proto != "HTTP/1.1" || r.Header.Get("Upgrade") != "" || r.Header.Get("Http2-Settings") != "" {
			t.Fatalf("the store received %s with Upgrade %q", r.Proto, r.Header.Get("Upgrade"))
		}
	}
	if len(store.Received()) != 2 {
		t.Fatalf("the store received %d requests, want both served", len(store.Received()))
	}
}

// A value bound to its record by a body member (context.member) or a path
// parameter (context.path_param) does not open when copied into another
// record, even for a caller allowed to send sealed values.
func TestValuesBoundToTheirRecordDoNotOpenElsewhere(t *testing.T) {
	store := sidecartest.NewStore(t, sidecartest.GoJSON)
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.URL(), FieldMap: `
classes:
  email: { mode: random, keys: [email] }
guard: { sealed_writes: accept }
routes:
  - name: accounts
    methods: [POST]
    paths: [/customers]
    context: { member: account_id }
    request:  [ {path: email, class: email} ]
    response: [ {path: email, class: email} ]
  - name: customers
    methods: [PUT, GET]
    paths: ["/customers/{id}"]
    context: { path_param: id }
    request:  [ {path: email, class: email} ]
    response: [ {path: email, class: email} ]
`})
	if r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"account_id":"a1","email":"` + alice + `"}`}); r.Status != http.StatusCreated || !bytes.Contains(r.Body, []byte(alice)) {
		t.Fatalf("create bound to a1: %d %s", r.Status, r.Body)
	}
	sealed, _ := store.Record("1")["email"].(string)
	// Copied into account a2: it is kept (sealed writes are accepted) but
	// only if it opens for its field, which it does not under a2.
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"account_id":"a2","email":"` + sealed + `"}`})
	if r.Status != http.StatusBadRequest || sidecartest.ErrorCode(r.Body) != "invalid_sealed_value" {
		t.Fatalf("a1's value written as a2's: %d %s", r.Status, r.Body)
	}
	if r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"email":"` + alice + `"}`}); r.Status != http.StatusBadRequest || sidecartest.ErrorCode(r.Body) != "missing_context" {
		t.Fatalf("a write without the member: %d %s", r.Status, r.Body)
	}

	if r := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/customers/c1", JSON: `{"email":"` + alice + `"}`}); r.Status != http.StatusOK {
		t.Fatalf("put c1: %d %s", r.Status, r.Body)
	}
	c1, _ := store.Record("c1")["email"].(string)
	r = sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/customers/c2", JSON: `{"email":"` + c1 + `"}`})
	if r.Status != http.StatusBadRequest || sidecartest.ErrorCode(r.Body) != "invalid_sealed_value" {
		t.Fatalf("c1's value written into c2: %d %s", r.Status, r.Body)
	}
	if r := sc.Do(t, sidecartest.Req{Path: "/customers/c1"}); !bytes.Contains(r.Body, []byte(alice)) {
		t.Fatalf("c1 read back: %d %s", r.Status, r.Body)
	}
}

func TestPathCaseCanBeSensitive(t *testing.T) {
	store := sidecartest.NewStore(t, sidecartest.GoJSON)
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.URL(), FieldMap: fieldMap + "guard: { path_case: sensitive }\n"})
	// contact.value is a route path only: on /CUSTOMERS, which no route
	// lists when paths compare exactly, it is not protected (members are).
	sc.Do(t, sidecartest.Req{Method: "POST", Path: "/CUSTOMERS", JSON: `{"contact":{"value":"` + hidden + `"},"email":"` + alice + `"}`})
	store.MustNotHold(t, alice)
	got := store.Received()
	if len(got) != 1 || !bytes.Contains(got[0].Body, []byte(hidden)) {
		t.Fatalf("with path_case sensitive /CUSTOMERS is no route: %q", got)
	}
}
