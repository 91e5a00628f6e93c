package appse2e_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// webServer is an upstream whose HTTP behaviour each test sets with its
// handler, recording the request headers it received so tests assert on
// what reached the application.
type webServer struct {
	srv *httptest.Server

	mu      sync.Mutex
	headers []http.Header
	queries []string

	// stateMu guards what a store built by newDocServer keeps.
	stateMu sync.Mutex
	state   storeState
}

// storeState is what a store keeps: documents by the key its handler
// chooses, and records in the order they came.
type storeState struct {
	docs    map[string][]byte
	records []map[string]any
}

// docHandler serves one request of a store with the request's body read
// and the store's state locked.
type docHandler func(w http.ResponseWriter, r *http.Request, body []byte, st *storeState)

// newDocServer is a webServer that keeps state: every request is served
// by h with its body read (a failed read answers 400) and the state
// locked.
func newDocServer(t *testing.T, h docHandler) *webServer {
	t.Helper()
	var ws *webServer
	ws = newWebServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		ws.stateMu.Lock()
		defer ws.stateMu.Unlock()
		h(w, r, b, &ws.state)
	})
	ws.state.docs = map[string][]byte{}
	return ws
}

// doc is the document the store keeps at key, or nil.
func (ws *webServer) doc(key string) []byte {
	ws.stateMu.Lock()
	defer ws.stateMu.Unlock()
	return ws.state.docs[key]
}

// records are the records the store keeps, in their order.
func (ws *webServer) records() []map[string]any {
	ws.stateMu.Lock()
	defer ws.stateMu.Unlock()
	return slices.Clone(ws.state.records)
}

// addRecord stores a record as if the application had written it.
func (ws *webServer) addRecord(rec map[string]any) {
	ws.stateMu.Lock()
	defer ws.stateMu.Unlock()
	ws.state.records = append(ws.state.records, rec)
}

func newWebServer(t *testing.T, h http.HandlerFunc) *webServer {
	t.Helper()
	ws := &webServer{}
	ws.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.mu.Lock()
		ws.headers = append(ws.headers, r.Header.Clone())
		ws.queries = append(ws.queries, r.URL.RawQuery)
		ws.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(ws.srv.Close)
	return ws
}

func (ws *webServer) URL() string { return ws.srv.URL }

// lastHeader is the header of the last request received.
func (ws *webServer) lastHeader() http.Header {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.headers) == 0 {
		return nil
	}
	return ws.headers[len(ws.headers)-1]
}

// lastQuery is the raw query of the last request received.
func (ws *webServer) lastQuery() string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.queries) == 0 {
		return ""
	}
	return ws.queries[len(ws.queries)-1]
}
