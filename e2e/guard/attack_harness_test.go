package guard_test

// The attacker's harness: an application that records what it received
// and decodes it with a reader function modelling one framework, for the
// reproductions kept from attacking the guard (attack_*_test.go).

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

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

// mustNotRead fails for each string the application read that is s
// exactly (a "name=value" pair its reader built); what names the kind of
// string in the message (a field, a parameter).
func (a *app) mustNotRead(t *testing.T, what, s string) {
	t.Helper()
	for _, rc := range a.received() {
		for _, got := range rc.Strings {
			if got == s {
				t.Errorf("app read %s %q from %s %q", what, got, rc.Header.Get("Content-Type"), rc.Body)
			}
		}
	}
}

// accountsRoute is one route of a field map on /accounts/{id}, for the
// routes list: its name, methods (comma-separated) and further keys
// (context, request, response), one YAML line each.
func accountsRoute(name, methods string, keys ...string) string {
	s := "\n  - name: " + name + "\n    methods: [" + methods + "]\n    paths: [\"/accounts/{id}\"]"
	for _, k := range keys {
		s += "\n    " + k
	}
	return s + "\n"
}

// sealedReader is a policies section whose one caller, reader (client id
// reader-app, from sidecartest.Issuer.AuthYAML), reads every class sealed
// and may write all: the caller for whom legacy plaintext must never pass.
const sealedReader = `policies:
  allow_anonymous: false
  default: {actions: {"*": sealed}, write: none}
  callers:
    - id: reader
      match: {client_ids: [reader-app]}
      actions: {"*": sealed}
      write: all
`

func startApp(t *testing.T, a *app, extra string) *sidecartest.Sidecar {
	return sidecartest.Start(t, bin, sidecartest.Config{Upstream: a.srv.URL, FieldMap: fieldMap + extra})
}

// echoStore is an application that keeps the body of the last write it was
// sent and answers a GET with it, so that a value sealed on the way in is
// read back through the sidecar. Writes also go to app, when set, which
// records and decodes them; otherwise they are answered {"ok":true}.
type echoStore struct {
	srv  *httptest.Server
	mu   sync.Mutex
	last []byte
}

func newEchoStore(t *testing.T, a *app) *echoStore {
	e := &echoStore{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(e.stored())
			return
		}
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.last = b
		e.mu.Unlock()
		if a == nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		a.srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// stored returns the body of the last write (nil before any).
func (e *echoStore) stored() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}
