package appse2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// docStore is a document store with a CouchDB-style REST API, the kind of
// application issue 16 found breaking: one database "db" with
//
//	PUT  /db/{id}            store a document (201 {"ok":true,"id":..})
//	GET  /db/{id}            the document as stored
//	GET  /db/_all_docs       {"rows":[{"id":..,"doc":{..}}]} (always with docs)
//	POST /db/_find           {"selector":{field: value | {"$eq":v} | {"$in":[..]}}}
//	                         -> {"docs":[..]}, matching by JSON equality
//
// Ids starting with "_" are reserved, as in CouchDB: PUT /db/_all_docs is
// refused. A document's "email", when present, is required: null or ""
// answers 400, as an application's validation does. It records every request body, so tests assert on what reached
// the store.
type docStore struct {
	srv *httptest.Server

	mu       sync.Mutex
	docs     map[string]map[string]any
	order    []string
	received [][]byte
}

func newDocStore(t *testing.T) *docStore {
	t.Helper()
	s := &docStore{docs: map[string]map[string]any{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *docStore) URL() string { return s.srv.URL }

// mustNotHold fails the test if any body the store received holds one of
// the plaintexts.
func (s *docStore) mustNotHold(t *testing.T, plaintexts ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	sidecartest.NoPlaintext(t, s.received, plaintexts...)
}

// lastBody is the body of the last request the store received.
func (s *docStore) lastBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.received) == 0 {
		return nil
	}
	return s.received[len(s.received)-1]
}

func (s *docStore) doc(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.docs[id]
}

func (s *docStore) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, body)
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/db/")
	switch {
	case !ok || id == "" || strings.Contains(id, "/"):
		reply(404, map[string]any{"error": "not_found"})
	case id == "_all_docs" && r.Method == http.MethodGet:
		rows := []any{}
		for _, id := range s.order {
			rows = append(rows, map[string]any{"id": id, "doc": s.docs[id]})
		}
		reply(200, map[string]any{"rows": rows})
	case id == "_find" && r.Method == http.MethodPost:
		var q struct {
			Selector map[string]any `json:"selector"`
		}
		if json.Unmarshal(body, &q) != nil {
			reply(400, map[string]any{"error": "bad_request"})
			return
		}
		docs := []any{}
		for _, id := range s.order {
			if selects(q.Selector, s.docs[id]) {
				docs = append(docs, s.docs[id])
			}
		}
		reply(200, map[string]any{"docs": docs})
	case strings.HasPrefix(id, "_"):
		reply(400, map[string]any{"error": "illegal_docid"})
	case r.Method == http.MethodPut:
		var doc map[string]any
		if json.Unmarshal(body, &doc) != nil {
			reply(400, map[string]any{"error": "bad_request"})
			return
		}
		if v, has := doc["email"]; has && (v == nil || v == "") {
			// A "required" validation, as application frameworks do it:
			// null and "" are missing.
			reply(400, map[string]any{"error": "bad_request", "reason": "email is required"})
			return
		}
		doc["_id"] = id
		if _, exists := s.docs[id]; !exists {
			s.order = append(s.order, id)
		}
		s.docs[id] = doc
		reply(201, map[string]any{"ok": true, "id": id})
	case r.Method == http.MethodGet:
		doc, exists := s.docs[id]
		if !exists {
			reply(404, map[string]any{"error": "not_found"})
			return
		}
		reply(200, doc)
	default:
		reply(405, map[string]any{"error": "method_not_allowed"})
	}
}

// selects reports whether doc matches a Mango-style selector: each member
// is a value (equality), or an object of operators $eq and $in.
func selects(sel map[string]any, doc map[string]any) bool {
	for k, cond := range sel {
		v, has := doc[k]
		ops, isOps := cond.(map[string]any)
		if !isOps {
			if !has || !reflect.DeepEqual(v, cond) {
				return false
			}
			continue
		}
		for op, arg := range ops {
			switch op {
			case "$eq":
				if !has || !reflect.DeepEqual(v, arg) {
					return false
				}
			case "$in":
				list, _ := arg.([]any)
				if !has || !slices.ContainsFunc(list, func(e any) bool { return reflect.DeepEqual(v, e) }) {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}
