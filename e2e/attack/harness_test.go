// Package attack_test holds the adversarial reproductions found while
// attacking the guard (issue 11) against the fieldseal binary, kept as
// regression tests: each sends what an attacker sent and asserts the
// promised behaviour, checking what the application received.
package attack_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

var bin string

func TestMain(m *testing.M) {
	os.Exit(testproc.RunWithBuild(m, "../../cmd/fieldseal", &bin))
}

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

// app is a recording upstream whose reader models one framework quirk: read
// returns every string the application decoded from the request.
type app struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []rec
	read func(r *http.Request, body []byte) []string
}

type rec struct {
	Method, URI string
	Header      http.Header
	Body        []byte
	Strings     []string
}

func newApp(t *testing.T, read func(r *http.Request, body []byte) []string) *app {
	a := &app{read: read}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		var s []string
		if a.read != nil {
			s = a.read(r, b)
		}
		a.mu.Lock()
		a.got = append(a.got, rec{r.Method, r.RequestURI, r.Header.Clone(), b, s})
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) received() []rec {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]rec(nil), a.got...)
}

// mustNotHold fails when the application decoded (or received raw) one of
// the plaintexts.
func (a *app) mustNotHold(t *testing.T, plaintexts ...string) {
	t.Helper()
	for _, r := range a.received() {
		for _, p := range plaintexts {
			if bytes.Contains(r.Body, []byte(p)) {
				t.Errorf("app received plaintext %q raw in %s %s: %q", p, r.Method, r.URI, r.Body)
			}
			for _, s := range r.Strings {
				if strings.Contains(s, p) {
					t.Errorf("app decoded plaintext %q from %s %s (body %q, decoded %q)", p, r.Method, r.URI, r.Body, s)
				}
			}
		}
	}
}

func startApp(t *testing.T, a *app, extra string) *sidecartest.Sidecar {
	return sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: fieldMap + extra})
}

func startStore(t *testing.T, fw sidecartest.Framework, extra string) (*sidecartest.Store, *sidecartest.Sidecar) {
	store := sidecartest.NewStore(t, fw)
	sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.URL(), FieldMap: fieldMap + extra})
	return store, sc
}
