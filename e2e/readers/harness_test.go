// Package readers_test holds the reproductions of the second attack on the
// guard, kept as regression tests of what callers read: a member of one
// class inside a value of another, legacy plaintext in error and non-JSON
// responses, sealed values smuggled inside API value items. Each asserts the
// promise against the real binary and what the application received.
package readers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

var bin string

func TestMain(m *testing.M) { os.Exit(sidecartest.RunWithBinary(m, &bin)) }

// canned is an upstream that records every request body and answers with
// the response the test set (status, content type, body, extra headers).
type canned struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	status int
	ctype  string
	body   string
	header map[string]string
}

func newCanned(t *testing.T) *canned {
	c := &canned{status: 200, ctype: "application/json", body: `{"ok":true}`}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		c.mu.Lock()
		c.bodies = append(c.bodies, b)
		st, ct, body, h := c.status, c.ctype, c.body, c.header
		c.mu.Unlock()
		for k, v := range h {
			w.Header().Set(k, v)
		}
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(st)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *canned) answer(status int, ctype, body string, h map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status, c.ctype, c.body, c.header = status, ctype, body, h
}

func (c *canned) mustNotHold(t *testing.T, plaintexts ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	sidecartest.NoPlaintext(t, c.bodies, plaintexts...)
}

const classes = `
classes:
  email: {mode: random, mask: email, keys: [email]}
  phone: {mode: random, mask: phone, keys: [phone]}
  rrn:   {mode: deterministic, keys: [rrn], operators: true}
routes:
  - name: customers
    methods: [GET, POST, PUT]
    paths: [/customers, "/customers/{id}"]
    request:
      - {path: contact, class: phone}
    response:
      - {path: contact, class: phone}
`

// policies: reader sees phones but only masked e-mails; writer writes all
// and reads nothing; anonymous callers read sealed.
const policies = `
policies:
  allow_anonymous: true
  default: {actions: {"*": sealed}, write: none}
  callers:
    - id: reader
      match: {client_ids: [reader-app]}
      actions: {email: mask, phone: decrypt, rrn: mask}
    - id: writer
      match: {client_ids: [writer-app]}
      read: false
      write: all
    - id: limited
      match: {client_ids: [limited-app]}
      actions: {email: deny, phone: decrypt, rrn: sealed}
`

type env struct {
	s                               *sidecartest.Sidecar
	up                              *canned
	reader, writer, nobody, limited string
}

func start(t *testing.T, extra string, api *sidecartest.API) env {
	t.Helper()
	up := newCanned(t)
	iss := sidecartest.NewIssuer(t)
	s := sidecartest.Start(t, bin, sidecartest.Config{Upstream: up.srv.URL,
		FieldMap: classes + extra + iss.AuthYAML("reader-app", "writer-app", "nobody-app", "limited-app") + policies, API: api})
	return env{s: s, up: up, reader: iss.Token(t, "reader-app", ""), writer: iss.Token(t, "writer-app", ""), nobody: iss.Token(t, "nobody-app", ""), limited: iss.Token(t, "limited-app", "")}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// apiItems posts a batch and returns its items (raw).
func apiItems(t *testing.T, s *sidecartest.Sidecar, op, tok, body string) []map[string]json.RawMessage {
	t.Helper()
	r := s.CallAPI(t, op, tok, body)
	var a struct{ Items []map[string]json.RawMessage }
	if err := json.Unmarshal(r.Body, &a); err != nil || r.Status != 200 {
		t.Fatalf("/v1/%s: %d %s", op, r.Status, r.Body)
	}
	return a.Items
}

func (c *canned) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.bodies[len(c.bodies)-1])
}
