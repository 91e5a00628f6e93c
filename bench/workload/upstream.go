package workload

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// MaxBodyBytes bounds what the upstream reads from one request body: the
// Large document with its values sealed fits.
const MaxBodyBytes = 4 << 20

// Fixture names accepted by POST /seed/{name}.
const (
	FixtureCustomer = "customer"
	FixtureList     = "list"
	FixtureLarge    = "large"
)

// Upstream is the benchmark's app: an http.Handler that echoes POST bodies and
// serves three fixtures on GET, gzip-encoded when the request opts in
// (QueryGzip) and accepts gzip.
// Fixtures are replaced whole (atomic pointer swap), so GETs never take a
// lock, and compressed once when stored, so a gzip response costs the
// upstream no more than a plain one.
type Upstream struct {
	customer atomic.Pointer[fixture]
	list     atomic.Pointer[fixture]
	large    atomic.Pointer[fixture]
}

// fixture is a document and its gzip encoding.
type fixture struct{ plain, gz []byte }

func newFixture(doc []byte) *fixture {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(doc)
	_ = zw.Close()
	return &fixture{plain: doc, gz: b.Bytes()}
}

// NewUpstream returns an Upstream serving the plaintext Customer, List and
// Large documents until a seed replaces them.
func NewUpstream() *Upstream {
	u := &Upstream{}
	u.customer.Store(newFixture(Customer()))
	u.list.Store(newFixture(List()))
	u.large.Store(newFixture(Large()))
	return u
}

func (u *Upstream) slot(name string) *atomic.Pointer[fixture] {
	switch name {
	case FixtureCustomer:
		return &u.customer
	case FixtureList:
		return &u.list
	case FixtureLarge:
		return &u.large
	}
	return nil
}

// Fixture returns the current body of the named fixture, or nil for an
// unknown name. The caller must not modify it.
func (u *Upstream) Fixture(name string) []byte {
	if s := u.slot(name); s != nil {
		return s.Load().plain
	}
	return nil
}

// ServeHTTP implements the routes described in the package comment.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPost:
		u.post(w, r)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/customers"):
		u.get(w, r, FixtureList)
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/customers/"):
		u.get(w, r, FixtureCustomer)
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/large/"):
		u.get(w, r, FixtureLarge)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// QueryGzip opts a GET into a gzip-encoded answer (with Accept-Encoding:
// gzip). Accepting gzip alone is not enough: Go's http.Transport, in the
// plain proxy and in fieldseal, asks for gzip on its own when the client did
// not and then inflates the answer itself, which would add decompression to
// every case that did not ask for it.
const QueryGzip = "gzip=1"

// get answers with a fixture, gzip-encoded when the request opts in with
// QueryGzip and accepts gzip.
func (u *Upstream) get(w http.ResponseWriter, r *http.Request, name string) {
	f := u.slot(name).Load()
	if r.URL.RawQuery == QueryGzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header()["Content-Encoding"] = []string{"gzip"}
		writeJSON(w, http.StatusOK, f.gz)
		return
	}
	writeJSON(w, http.StatusOK, f.plain)
}

func (u *Upstream) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, "/seed/"); ok {
		s := u.slot(name)
		if s == nil {
			http.Error(w, "unknown fixture", http.StatusNotFound)
			return
		}
		s.Store(newFixture(body))
	}
	writeJSON(w, http.StatusCreated, body)
}

// writeJSON sets Content-Length explicitly so every response, the 20 KB list
// included, is sent whole rather than chunked, as a typical JSON API does.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
