package sidecartest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// Framework is how a Store's application reads requests. Each models a
// family of real frameworks on the points where they disagree with each
// other, which is where a proxy that reads a request differently from the
// application lets plaintext through.
type Framework int

const (
	// GoJSON is a net/http + encoding/json service: exact routes, JSON
	// decoded whatever the Content-Type says, member names bound to fields
	// case-insensitively (encoding/json folds them).
	GoJSON Framework = iota
	// Express is an Express-style app: routes match case-insensitively and
	// under any prefix (nested routers: /tenants/1/customers), the
	// X-HTTP-Method-Override header replaces the method, HEAD is answered
	// as GET, JSON bodies are decoded in any utf-* charset they declare
	// (utf-16 here), and form bodies (urlencoded, multipart) are accepted.
	Express
	// Servlet is a servlet container: ";name=value" path parameters
	// (;jsessionid=...) are removed from every segment before routing.
	Servlet
	// SlashID routes on the escaped path: "%2F" inside a segment stays
	// part of the id, as some document stores do.
	SlashID
	// H2C accepts "Upgrade: h2c" and prior-knowledge HTTP/2 in cleartext.
	H2C
)

// Received is one request as the application saw it.
type Received struct {
	Method  string // after the framework's own method reading
	RawPath string // escaped path and query as received
	Header  http.Header
	Body    []byte
	// Strings are every string (member names and values) the application
	// decoded from the body (JSON, form or multipart), after its own
	// charset and escape decoding.
	Strings []string
	Proto   string
}

// Store is a recording application: a "customers" collection at
// /customers (POST creates, GET lists; /customers/{id}: GET, PUT, PATCH,
// DELETE) and a batch endpoint POST /batch taking
// {"requests":[{"method":..,"url":..,"body":{..}}]}; every other path
// answers 404 after recording. Records are kept as decoded JSON and
// returned as the application stored them.
type Store struct {
	fw  Framework
	srv *httptest.Server

	mu       sync.Mutex
	received []Received
	records  map[string]any
	nextID   int
}

// NewStore starts a store of framework fw on a loopback port for the
// length of the test.
func NewStore(t testing.TB, fw Framework) *Store {
	t.Helper()
	s := &Store{fw: fw, records: map[string]any{}}
	var h http.Handler = http.HandlerFunc(s.serve)
	if fw == H2C {
		h = h2c.NewHandler(h, &http2.Server{})
	}
	s.srv = httptest.NewServer(h)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the store's base URL.
func (s *Store) URL() string { return s.srv.URL }

// Received returns a copy of every request the store has seen.
func (s *Store) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Record returns the stored record with id, or nil.
func (s *Store) Record(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, _ := s.records[id].(map[string]any)
	return r
}

// MustNotHold fails the test if any request the store received carried
// one of the plaintexts: in its raw path or query, its raw body, or any
// string the application decoded from the body (compared
// case-insensitively, since a framework may fold it).
func (s *Store) MustNotHold(t testing.TB, plaintexts ...string) {
	t.Helper()
	for _, r := range s.Received() {
		for _, p := range plaintexts {
			lp := strings.ToLower(p)
			if strings.Contains(strings.ToLower(r.RawPath), lp) || bytes.Contains(bytes.ToLower(r.Body), []byte(lp)) {
				t.Fatalf("the store received plaintext %q in %s %s: %q", p, r.Method, r.RawPath, r.Body)
			}
			for _, d := range r.Strings {
				if strings.Contains(strings.ToLower(d), lp) {
					t.Fatalf("the store decoded plaintext %q from %s %s: %q", p, r.Method, r.RawPath, r.Body)
				}
			}
		}
	}
}

func (s *Store) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := Received{Method: r.Method, RawPath: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body, Proto: r.Proto}
	method, path := s.read(r)
	rec.Method = method
	doc, strs := s.decode(r.Header.Get("Content-Type"), body)
	rec.Strings = strs
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, rec)
	status, out := s.route(method, path, doc)
	if out == nil {
		w.WriteHeader(status)
		return
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// read returns the method and the routing path as the framework reads them.
func (s *Store) read(r *http.Request) (method, path string) {
	method, path = r.Method, r.URL.Path
	switch s.fw {
	case Express:
		if o := r.Header.Get("X-HTTP-Method-Override"); o != "" {
			method = strings.ToUpper(o)
		}
		if method == http.MethodHead {
			method = http.MethodGet
		}
		path = strings.ToLower(path)
		if i := strings.Index(path, "/customers"); i > 0 {
			path = path[i:] // a router mounted under any prefix
		}
		if i := strings.Index(path, "/batch"); i > 0 {
			path = path[i:]
		}
	case Servlet:
		segs := strings.Split(path, "/")
		for i, seg := range segs {
			segs[i], _, _ = strings.Cut(seg, ";")
		}
		path = strings.Join(segs, "/")
	case SlashID:
		path = r.URL.EscapedPath()
	}
	return method, path
}

// decode reads a body as the framework would: JSON whatever the
// Content-Type (utf-16 where declared), urlencoded and multipart forms.
func (s *Store) decode(contentType string, body []byte) (any, []string) {
	mt, params, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		vals, _ := url.ParseQuery(string(body))
		return formDoc(vals), formStrings(vals)
	case mt == "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		vals := url.Values{}
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			vals.Add(p.FormName(), string(b))
		}
		return formDoc(vals), formStrings(vals)
	}
	if cs := strings.ToLower(params["charset"]); strings.HasPrefix(cs, "utf-16") && len(body)%2 == 0 {
		u := make([]uint16, len(body)/2)
		for i := range u {
			if cs == "utf-16le" {
				u[i] = uint16(body[2*i]) | uint16(body[2*i+1])<<8
			} else {
				u[i] = uint16(body[2*i])<<8 | uint16(body[2*i+1])
			}
		}
		body = []byte(string(utf16.Decode(u)))
	}
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return nil, nil
	}
	var strs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			strs = append(strs, v)
		case map[string]any:
			for k, e := range v {
				strs = append(strs, k)
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return doc, strs
}

func formDoc(vals url.Values) any {
	m := map[string]any{}
	for k, v := range vals {
		m[k] = v[0]
	}
	return m
}

func formStrings(vals url.Values) []string {
	var out []string
	for k, vs := range vals {
		out = append(out, k)
		out = append(out, vs...)
	}
	return out
}

// route serves the customers collection and the batch endpoint; s.mu is
// held.
func (s *Store) route(method, path string, doc any) (int, any) {
	switch {
	case path == "/batch" && method == http.MethodPost:
		m, _ := doc.(map[string]any)
		reqs, _ := m["requests"].([]any)
		var out []any
		for _, q := range reqs {
			q, _ := q.(map[string]any)
			qm, _ := q["method"].(string)
			qu, _ := q["url"].(string)
			_, res := s.route(strings.ToUpper(qm), qu, q["body"])
			out = append(out, res)
		}
		return http.StatusOK, out
	case path == "/customers" && method == http.MethodPost:
		rec, ok := doc.(map[string]any)
		if !ok {
			return http.StatusBadRequest, map[string]any{"message": "want an object"}
		}
		s.nextID++
		id := strconv.Itoa(s.nextID)
		rec["id"] = id
		s.records[id] = rec
		return http.StatusCreated, rec
	case path == "/customers" && method == http.MethodGet:
		list := []any{}
		for i := 1; i <= s.nextID; i++ {
			if r, ok := s.records[strconv.Itoa(i)]; ok {
				list = append(list, r)
			}
		}
		return http.StatusOK, list
	case strings.HasPrefix(path, "/customers/"):
		id := strings.TrimPrefix(path, "/customers/")
		cur, exists := s.records[id].(map[string]any)
		switch method {
		case http.MethodGet:
			if !exists {
				return http.StatusNotFound, map[string]any{}
			}
			return http.StatusOK, cur
		case http.MethodPut, http.MethodPost:
			rec, ok := doc.(map[string]any)
			if !ok {
				return http.StatusBadRequest, map[string]any{"message": "want an object"}
			}
			rec["id"] = id
			s.records[id] = rec
			return http.StatusOK, rec
		case http.MethodPatch:
			in, ok := doc.(map[string]any)
			if !ok || !exists {
				return http.StatusBadRequest, map[string]any{}
			}
			for k, v := range in {
				cur[k] = v
			}
			return http.StatusOK, cur
		case http.MethodDelete:
			delete(s.records, id)
			return http.StatusOK, map[string]any{}
		}
	}
	return http.StatusNotFound, map[string]any{"message": "not found"}
}
