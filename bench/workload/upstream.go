package workload

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// MaxBodyBytes bounds what the upstream reads from one request body.
const MaxBodyBytes = 1 << 20

// Fixture names accepted by POST /seed/{name}.
const (
	FixtureCustomer = "customer"
	FixtureList     = "list"
)

// Upstream is the benchmark's app: an http.Handler that echoes POST bodies and
// serves two fixtures on GET. Fixtures are replaced whole (atomic pointer
// swap), so GETs never take a lock.
type Upstream struct {
	customer atomic.Pointer[[]byte]
	list     atomic.Pointer[[]byte]
}

// NewUpstream returns an Upstream serving the plaintext Customer and List
// documents until a seed replaces them.
func NewUpstream() *Upstream {
	u := &Upstream{}
	c, l := Customer(), List()
	u.customer.Store(&c)
	u.list.Store(&l)
	return u
}

// Fixture returns the current body of the named fixture, or nil for an
// unknown name. The caller must not modify it.
func (u *Upstream) Fixture(name string) []byte {
	switch name {
	case FixtureCustomer:
		return *u.customer.Load()
	case FixtureList:
		return *u.list.Load()
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
		writeJSON(w, http.StatusOK, u.Fixture(FixtureList))
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/customers/"):
		writeJSON(w, http.StatusOK, u.Fixture(FixtureCustomer))
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
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
		switch name {
		case FixtureCustomer:
			u.customer.Store(&body)
		case FixtureList:
			u.list.Store(&body)
		default:
			http.Error(w, "unknown fixture", http.StatusNotFound)
			return
		}
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
