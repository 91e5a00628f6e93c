package appse2e_test

import (
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
