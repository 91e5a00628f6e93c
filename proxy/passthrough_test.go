package proxy

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// frontFor serves a Proxy in front of handler; both close when the test ends.
func frontFor(t *testing.T, handler http.Handler, mutate func(*Options)) (*httptest.Server, *keyHolder) {
	t.Helper()
	up := httptest.NewServer(handler)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	keys := &keyHolder{}
	keys.p.Store(testRing(t))
	opts := Options{Upstream: u, Routes: testMap(t), Keys: keys, Logger: zerolog.Nop(), MaxBodyBytes: 64 << 10}
	if mutate != nil {
		mutate(&opts)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(func() { front.Close(); p.CloseIdleConnections() })
	return front, keys
}

// waitOrFail waits for ch, failing the test after a generous bound (a hang
// here means the proxy buffered what it must stream).
func waitOrFail(t *testing.T, ch <-chan struct{}, what string) bool {
	select {
	case <-ch:
		return true
	case <-time.After(20 * time.Second):
		t.Errorf("gave up waiting: %s", what)
		return false
	}
}

func TestUnmatchedLargeBodyIsStreamed(t *testing.T) {
	const total = 64 << 20
	const chunk = 1 << 20
	started := make(chan struct{})
	front, _ := frontFor(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 32<<10)
		var n int64
		signalled := false
		for {
			k, err := r.Body.Read(buf)
			n += int64(k)
			if !signalled && n >= chunk {
				close(started)
				signalled = true
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		fmt.Fprint(w, n)
	}), nil)

	pr, pw := io.Pipe()
	go func() {
		block := make([]byte, chunk)
		_, _ = rand.Read(block)
		// Random bytes may start like JSON ('{', '[', "//") or UTF-16 (a NUL
		// byte), which the guard reads or refuses; start like a zip file.
		block[0], block[1] = 'P', 'K'
		if _, err := pw.Write(block); err != nil {
			pw.CloseWithError(err)
			return
		}
		// The rest is only sent once the upstream has begun receiving: a
		// proxy that buffered the body before forwarding would never get here.
		if !waitOrFail(t, started, "upstream to receive the first MiB while the client is still sending") {
			pw.CloseWithError(io.ErrUnexpectedEOF)
			return
		}
		for sent := chunk; sent < total; sent += chunk {
			if _, err := pw.Write(block); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, front.URL+"/upload", pr)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != strconv.Itoa(total) {
		t.Errorf("status %d, upstream counted %s bytes, want %d", resp.StatusCode, body, total)
	}
}

func TestUnmatchedStreamingResponseIsFlushed(t *testing.T) {
	ack := make(chan struct{})
	front, _ := frontFor(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select { // the second event waits for the client to have seen the first
		case <-ack:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: two\n\n")
	}), nil)
	resp, err := front.Client().Get(front.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	close(ack)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest %q", rest)
	}
}

// echoUpgrade answers an Upgrade request with 101 and echoes lines back.
func echoUpgrade(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Seen-Path: "+r.URL.Path+"\r\n\r\n")
	_ = brw.Flush()
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		fmt.Fprint(brw, "echo "+line)
		_ = brw.Flush()
	}
}

func TestUpgradeIsPassedThrough(t *testing.T) {
	for _, path := range []string{"/ws", "/customers"} {
		t.Run("websocket upgrade on "+path+" is spliced to the upstream", func(t *testing.T) {
			front, _ := frontFor(t, http.HandlerFunc(echoUpgrade), nil)
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(front.URL, "http://"), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: fieldseal\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", path)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("X-Seen-Path") != path {
				t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
			}
			if resp.Header.Get(HeaderRequestID) == "" {
				t.Errorf("101 response has no request id")
			}
			for _, msg := range []string{"ping\n", `{"email":"not touched"}` + "\n"} {
				fmt.Fprint(conn, msg)
				got, err := br.ReadString('\n')
				if err != nil || got != "echo "+msg {
					t.Fatalf("got %q, %v; want echo of %q", got, err, msg)
				}
			}
		})
	}
}

func TestUnmatchedNonJSONBodyPassesUntouched(t *testing.T) {
	h := newHarness(t, serve(200, "text/plain", "fine"), nil)
	body := "email plain@example.com, but not JSON"
	resp, got := h.do(t, http.MethodPost, "/not-protected", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(body))
	if resp.StatusCode != 200 || string(got) != "fine" {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	if reqs := h.up.requests(); len(reqs) != 1 || string(reqs[0].Body) != body {
		t.Errorf("upstream got %v", reqs)
	}
}

func TestABodyThatStartsLikeJSONButIsNotIsRefused(t *testing.T) {
	h := newHarness(t, serve(200, "text/plain", "fine"), nil)
	// json.Decoder reads the first value and ignores the rest; lenient
	// parsers take comments: either would bind the member.
	for _, body := range []string{`{"email":"plain@example.com"} but not JSON`, `/**/{"email":"plain@example.com"}`} {
		resp, got := h.do(t, http.MethodPost, "/not-protected", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader(body))
		if resp.StatusCode != 400 || errorCode(t, got) != "invalid_json" {
			t.Errorf("%q: status %d: %s", body, resp.StatusCode, got)
		}
	}
	if reqs := h.up.requests(); len(reqs) != 0 {
		t.Errorf("upstream got %d requests", len(reqs))
	}
}

func TestRequestIDIsPropagated(t *testing.T) {
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"sane client id is kept", "req-123_abc.DEF:9", true},
		{"id with spaces is replaced", "bad id", false},
		{"overlong id is replaced", strings.Repeat("a", 200), false},
		{"missing id is generated", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			hd := jsonHeader()
			if tt.sent != "" {
				hd.Set(HeaderRequestID, tt.sent)
			}
			resp, body := h.do(t, http.MethodPost, "/customers", hd, strings.NewReader(customer))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			got := resp.Header.Get(HeaderRequestID)
			upstream := h.up.requests()[0].Header.Values(HeaderRequestID)
			if len(upstream) != 1 || upstream[0] != got || len(resp.Header.Values(HeaderRequestID)) != 1 {
				t.Errorf("client got %q, upstream got %q", resp.Header.Values(HeaderRequestID), upstream)
			}
			if tt.kept && got != tt.sent {
				t.Errorf("id %q, want the client's %q", got, tt.sent)
			}
			if !tt.kept && (got == tt.sent || len(got) != 16) {
				t.Errorf("id %q, want a fresh 16-hex id", got)
			}
		})
	}
	t.Run("error responses carry the request id too", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		hd := http.Header{HeaderRequestID: {"trace-1"}}
		resp, body := h.do(t, http.MethodPost, "/customers", hd, strings.NewReader("x"))
		if resp.Header.Get(HeaderRequestID) != "trace-1" || !strings.Contains(string(body), `"request_id":"trace-1"`) {
			t.Errorf("headers %v body %s", resp.Header, body)
		}
	})
}

func TestUpgradeIsRefusedOnSealingRoutes(t *testing.T) {
	t.Run("an upgrade on a route that seals request fields is refused and nothing is forwarded", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		header := jsonHeader()
		header.Set("Connection", "Upgrade")
		header.Set("Upgrade", "websocket")
		resp, body := h.do(t, http.MethodPost, "/customers", header, strings.NewReader(customer))
		if resp.StatusCode != http.StatusBadRequest || errorCode(t, body) != "upgrade_refused" {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if n := len(h.up.requests()); n != 0 {
			t.Errorf("upstream saw %d requests, want 0", n)
		}
	})
}
