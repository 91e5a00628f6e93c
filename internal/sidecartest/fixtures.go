package sidecartest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
)

// The field maps the tests run: the end-to-end tests' as Config.FieldMap,
// the unit tests' decoded with strictyaml. They are declared once here so
// that a change of the field-map syntax is made in one place. A side that
// repeats another names it with a YAML alias.
// MaskedCustomers protects a customer's e-mail, phone and resident
// registration number (classes email, phone, rrn, each with a mask format),
// sealed on writes (POST, PUT, PATCH of /customers and /customers/{id}) and
// opened per the caller's policy on those answers and on GET
// /customers/{id}.
var MaskedCustomers = CustomersWithID("rrn", "{mode: random, mask: kr_rrn}")

// CustomersWithID is MaskedCustomers with its third class, the customer's
// identifying number at the member of the same name, called class and set
// by settings (a YAML flow mapping such as "{mode: deterministic}").
func CustomersWithID(class, settings string) string {
	return fmt.Sprintf(`
classes:
  email: {mode: random, mask: email}
  phone: {mode: random, mask: phone}
  %[1]s: %[2]s
routes:
  - name: customers-write
    methods: [POST, PUT, PATCH]
    paths: [/customers, "/customers/{id}"]
    request: &customer
      - {path: email, class: email}
      - {path: phone, class: phone}
      - {path: %[1]s, class: %[1]s}
    response: *customer
  - name: customers-get
    methods: [GET]
    paths: ["/customers/{id}"]
    response: *customer
`, class, settings)
}

const (
	// AddressCustomers is the quick start's map: a customer's e-mail,
	// phone and address.street (classes email, phone, street) sealed on
	// POST /customers and opened on that answer, on GET /customers (the
	// list) and on GET /customers/{id}. Other paths pass through.
	AddressCustomers = `
classes:
  email:  { mode: random }
  phone:  { mode: random }
  street: { mode: random }
routes:
  - name: customers-write
    methods: [POST]
    paths: [/customers]
    request: &customer
      - { path: email, class: email }
      - { path: phone, class: phone }
      - { path: address.street, class: street }
    response: *customer
  - name: customers-list
    methods: [GET]
    paths: [/customers]
    response:
      - { path: "#.email", class: email }
      - { path: "#.phone", class: phone }
      - { path: "#.address.street", class: street }
  - name: customers-get
    methods: [GET]
    paths: ["/customers/{id}"]
    response: *customer
`

	// UnitFieldMap is the field map of the proxy and transform unit tests:
	// customers (email, phone, address.street, and ssn in the
	// deterministic mode) written through customers-write and read through
	// customers-list and customer-read; /types seals every JSON type under
	// one class; /bench is the benchmarks' document; notes are bound to
	// the X-Tenant-ID header as their context.
	UnitFieldMap = `
classes:
  email:   { mode: random }
  phone:   { mode: random }
  street:  { mode: random }
  ssn:     { mode: deterministic }
  profile: { mode: random, seal_empty: true }
  note:    { mode: random }
routes:
  - name: customers-write
    methods: [POST, PUT, PATCH, DELETE]
    paths: ["/customers", "/customers/{id}"]
    request: &customer
      - { path: email, class: email }
      - { path: phone, class: phone }
      - { path: address.street, class: street }
      - { path: ssn, class: ssn }
    response: *customer
  - name: customers-list
    methods: [GET]
    paths: [/customers]
    response:
      - { path: "#.email", class: email }
      - { path: "#.phone", class: phone }
  - name: customer-read
    methods: [GET]
    paths: ["/customers/{id}"]
    response: *customer
  - name: types
    methods: [POST, GET]
    paths: [/types]
    request: &types
      - { path: s, class: profile }
      - { path: n, class: profile }
      - { path: b, class: profile }
      - { path: z, class: profile }
      - { path: o, class: profile }
      - { path: a, class: profile }
    response: *types
  - name: bench
    methods: [POST, GET]
    paths: [/bench]
    request: &bench
      - { path: email, class: email }
      - { path: phone, class: phone }
      - { path: address.street, class: street }
      - { path: address.zip, class: street }
      - { path: ssn, class: ssn }
    response: *bench
  - name: notes
    methods: [POST, GET]
    paths: ["/tenants/{tenant}/notes"]
    context: { header: X-Tenant-ID }
    request:
      - { path: note, class: note }
    response:
      - { path: note, class: note }
`
)

// BenchDoc is the benchmarks' 1 KB customer document: the five fields of
// UnitFieldMap's bench route (email, phone, address.street, address.zip,
// ssn) among unprotected members of every JSON type.
var BenchDoc = func() []byte {
	doc := `{"id":12345,"name":"Ada Lovelace","email":"ada.lovelace@example.com","phone":"+44 20 7946 0958",` +
		`"address":{"street":"12 Analytical Engine Way","city":"London","zip":"NW1 6XE","country":"GB"},` +
		`"ssn":"123-45-6789","created":"2026-01-02T03:04:05Z","tags":["vip","beta","newsletter"],` +
		`"preferences":{"language":"en-GB","timezone":"Europe/London","marketing":false,"theme":"dark"},` +
		`"notes":"` + strings.Repeat("lorem ipsum dolor sit amet ", 22) + `","orders":[1001,1002,1003,1004],"active":true}`
	return []byte(doc)
}()

// KeyID reads the key version from a sealed value's header, as the README's
// wire format describes it: "fs1:" + base64url_nopad(alg byte, JSON type
// byte, key id uint32 big-endian, nonce, ciphertext). A value that is not
// sealed fails the test.
func KeyID(t testing.TB, sealed string) uint32 {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "fs1:"))
	if !strings.HasPrefix(sealed, "fs1:") || err != nil || len(raw) < 6 {
		t.Fatalf("not a sealed value: %q (%v)", sealed, err)
	}
	return binary.BigEndian.Uint32(raw[2:6])
}

// Ring is a real key ring for unit tests: data keys 1..n of fresh random
// material, created at one fixed time, n primary, revision "test-revision".
// Two rings are foreign to each other: same key ids, different material.
func Ring(t testing.TB, n uint32) *crypto.Keyring {
	t.Helper()
	var keys []*crypto.DataKey
	for id := uint32(1); id <= n; id++ {
		material := make([]byte, 32)
		if _, err := rand.Read(material); err != nil {
			t.Fatal(err)
		}
		k, err := crypto.NewDataKey(id, material, time.Unix(1700000000, 0))
		if err != nil {
			t.Fatalf("new data key: %v", err)
		}
		keys = append(keys, k)
	}
	r, err := crypto.NewKeyring(keys, n, "test-revision")
	if err != nil {
		t.Fatalf("new keyring: %v", err)
	}
	return r
}

// LocalRing is a new local key ring for unit tests: a fresh master key
// and a ring file (one data key, created by localkeys.Init) in a directory
// removed when the test ends.
func LocalRing(t testing.TB) (path string, mk localkeys.MasterKey) {
	t.Helper()
	text, err := localkeys.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if mk, err = localkeys.ParseMasterKey(text); err != nil {
		t.Fatalf("generated master key refused: %v", err)
	}
	path = filepath.Join(t.TempDir(), "ring.json")
	if _, err := localkeys.Init(path, mk); err != nil {
		t.Fatalf("init key ring: %v", err)
	}
	return path, mk
}

// CopyTruncate does to the file at path what logrotate's copytruncate
// does: it copies the file to rotated, then empties it under its writer.
func CopyTruncate(t testing.TB, path, rotated string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rotated, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// WantProblems checks an error that lists problems one a line (config,
// field-map and YAML errors, the way a compiler reports): every want is
// part of some line, and there are as many lines as wants.
func WantProblems(t testing.TB, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %d problems", len(want))
	}
	problems := strings.Split(err.Error(), "\n")
	for _, w := range want {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
			t.Errorf("no problem contains %q; got:\n%s", w, err)
		}
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems reported, want %d:\n%s", len(problems), len(want), err)
	}
}
