package appse2e_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// Issue 16 item 5: a long-poll feed holds its response headers while it
// waits for a change, longer than the proxy's upstream timeout; a route
// sets its own.
func TestARouteSetsItsOwnUpstreamTimeout(t *testing.T) {
	arrived := make(chan string, 2)
	release := make(chan struct{})
	ws := newWebServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		select { // a long poll: no answer until there is a change
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"results":[{"id":"ada"}]}`)
	})
	sc := start(t, ws.URL(), "limits: {upstream_timeout: 1s}\n"+emailMap(
		route{name: "longpoll", methods: "GET", paths: "/db/_changes", response: `"results.#.doc.email"`, extra: "    upstream_timeout: 2m\n"},
		route{name: "docs", methods: "GET", paths: `"/db/{id}"`, response: "email"}))
	feed := make(chan sidecartest.Resp, 1)
	go func() {
		resp, err := sidecartest.Send(sc.URL, sidecartest.Req{Path: "/db/_changes?feed=longpoll"})
		if err != nil {
			resp.Status = -1
		}
		feed <- resp
	}()
	if got := <-arrived; got != "/db/_changes" {
		t.Fatalf("first request at the upstream: %s", got)
	}
	// Another route keeps the proxy's 1 s: its 504 comes while the long
	// poll, which started first, is still waiting.
	resp := sc.Do(t, sidecartest.Req{Path: "/db/ada"})
	if resp.Status != http.StatusGatewayTimeout || sidecartest.ErrorCode(resp.Body) != "upstream_timeout" {
		t.Fatalf("GET /db/ada: %d %s, want 504", resp.Status, resp.Body)
	}
	select {
	case r := <-feed:
		t.Fatalf("the long poll ended before its change: %d %s", r.Status, r.Body)
	default:
	}
	close(release)
	if r := <-feed; r.Status != 200 || string(r.Body) != `{"results":[{"id":"ada"}]}` {
		t.Fatalf("long poll: %d %s", r.Status, r.Body)
	}
}

// A route's body_timeout bounds a client dribbling its protected body,
// here shorter than the proxy's 30 s default.
func TestARouteSetsItsOwnBodyTimeout(t *testing.T) {
	ws := newWebServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	sc := start(t, ws.URL(), emailMap(route{name: "customers", methods: "POST", paths: "/customers", request: "email", extra: "    body_timeout: 1s\n"}))
	conn, err := net.Dial("tcp", strings.TrimPrefix(sc.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.WriteString(conn, "POST /customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("a stalled body: %d %s, want 408", resp.StatusCode, body)
	}
	if h := ws.lastHeader(); h != nil {
		t.Fatalf("the upstream received a request: %v", h)
	}
}
