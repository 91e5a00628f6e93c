package appse2e_test

import (
	"io"
	"net/http"
	"net/http/httptest"
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

	// docs are the bodies a document store keeps (newDocServer), by the
	// key its handler chooses.
	docsMu sync.Mutex
	docs   map[string][]byte
}

// docHandler serves one request of a document store with the request's
// body read and the store's documents locked.
type docHandler func(w http.ResponseWriter, r *http.Request, body []byte, docs map[string][]byte)

// newDocServer is a webServer that keeps documents: every request is
// served by h with its body read (a failed read answers 400) and the
// documents locked.
func newDocServer(t *testing.T, h docHandler) *webServer {
	t.Helper()
	var ws *webServer
	ws = newWebServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		ws.docsMu.Lock()
		defer ws.docsMu.Unlock()
		h(w, r, b, ws.docs)
	})
	ws.docs = map[string][]byte{}
	return ws
}

// doc is the document the store keeps at key, or nil.
func (ws *webServer) doc(key string) []byte {
	ws.docsMu.Lock()
	defer ws.docsMu.Unlock()
	return ws.docs[key]
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
