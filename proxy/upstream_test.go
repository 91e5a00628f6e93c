package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
)

// closedURL is an http URL on 127.0.0.1 where nothing listens any more.
func closedURL(t *testing.T) *url.URL {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return &url.URL{Scheme: "http", Host: addr}
}

func TestUpstreamFailures(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		down       bool
		wantStatus int
		wantCode   string
	}{
		{"upstream down on a protected route is a 502", http.MethodPost, "/customers", true, 502, "upstream_unavailable"},
		{"upstream down on an unmatched route is a 502", http.MethodGet, "/other", true, 502, "upstream_unavailable"},
		{"slow upstream on a protected route is a 504", http.MethodPost, "/customers", false, 504, "upstream_timeout"},
		{"slow upstream on an unmatched route is a 504", http.MethodGet, "/other", false, 504, "upstream_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				select { // never answers in time; freed when the test ends
				case <-release:
				case <-r.Context().Done():
				}
			}, func(o *Options) {
				o.UpstreamTimeout = 150 * time.Millisecond
				if tt.down {
					o.Upstream = closedURL(t)
				}
			})
			defer close(release)
			var body *strings.Reader
			if tt.method == http.MethodPost {
				body = strings.NewReader(customer)
			} else {
				body = strings.NewReader("")
			}
			resp, got := h.do(t, tt.method, tt.path, jsonHeader(), body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, got)
			}
			if code := errorCode(t, got); code != tt.wantCode {
				t.Errorf("code %q, want %q", code, tt.wantCode)
			}
			if strings.Contains(string(got), "127.0.0.1") {
				t.Errorf("error body reveals the upstream address: %s", got)
			}
		})
	}
}

// TestNoGoroutineLeaks drives every kind of request (success, failure,
// timeout, upgrade, streaming) and checks that once servers and idle
// connections are closed the goroutine count returns to where it was.
func TestNoGoroutineLeaks(t *testing.T) {
	settle := func(limit int) int {
		deadline := time.Now().Add(10 * time.Second)
		n := runtime.NumGoroutine()
		for n > limit && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		return n
	}
	before := runtime.NumGoroutine()
	for _, sub := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"protected round trip", TestRequestFieldsAreSealedBeforeForwarding},
		{"refused requests", TestFailedRequestsForwardNothing},
		{"refused responses", TestResponseFailuresAnswer502},
		{"compressed responses", TestCompressedResponsesAreReencoded},
		{"upstream down and slow", TestUpstreamFailures},
		{"upgrades", TestUpgradeIsPassedThrough},
		{"streaming responses", TestUnmatchedStreamingResponseIsFlushed},
		{"slow bodies", TestSlowBodiesOnProtectedRoutesAreCutOff},
		{"replayed bodies", TestSealedBodyIsReplayedOnAStaleConnection},
		{"large streamed body", TestUnmatchedLargeBodyIsStreamed},
	} {
		t.Run(sub.name, sub.fn)
	}
	if after := settle(before); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func TestHTTPSUpstreamSpeaksHTTP2(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"proto":%q,"email":"legacy@example.com"}`, r.Proto)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	defer up.Close()
	u, _ := url.Parse(up.URL)
	keys := &keyHolder{}
	keys.p.Store(testRing(t))
	p, err := New(Options{Upstream: u, Routes: testMap(t), Keys: keys, Logger: zerolog.Nop(),
		TLSClientConfig: up.Client().Transport.(*http.Transport).TLSClientConfig})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer func() { front.Close(); p.CloseIdleConnections() }()
	resp, err := front.Client().Get(front.URL + "/customers/7")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || gjson.GetBytes(body, "proto").Str != "HTTP/2.0" {
		t.Errorf("status %d body %s, want the upstream reached over HTTP/2", resp.StatusCode, body)
	}
}

func TestProtectedReadWithoutKeysForwardsNothing(t *testing.T) {
	h := newHarness(t, serve(200, "application/json", `{"email":"x"}`), nil)
	h.keys.p.Store(nil)
	resp, body := h.do(t, http.MethodGet, "/customers/7", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, body) != "keys_unavailable" {
		t.Errorf("status %d: %s", resp.StatusCode, body)
	}
	if n := len(h.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
	// Unprotected routes do not need keys.
	if resp, _ := h.do(t, http.MethodGet, "/health-of-app", nil, nil); resp.StatusCode != 200 {
		t.Errorf("unmatched route without keys: status %d", resp.StatusCode)
	}
}

// TestSealedBodyIsReplayedOnAStaleConnection: when a reused upstream
// connection dies before the response, the transport may retry a request it
// can rewind. The sealed body must be offered again (GetBody) and must still
// be intact, i.e. its pooled buffer was not recycled after the first attempt.
func TestSealedBodyIsReplayedOnAStaleConnection(t *testing.T) {
	var posts atomic.Int32
	var got atomic.Value
	front, _ := frontFor(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && posts.Add(1) == 1 {
			// Drop the (reused) connection without answering, as a server
			// closing an idle keep-alive connection would.
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		got.Store(body)
		w.WriteHeader(http.StatusNoContent)
	}), nil)
	// Warm up one keep-alive connection between proxy and upstream.
	if resp, err := front.Client().Get(front.URL + "/warm-up"); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodPost, front.URL+"/customers", strings.NewReader(customer))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "k-1") // makes a POST replayable for net/http
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || posts.Load() != 2 {
		t.Fatalf("status %d after %d attempts, want 204 after a retry", resp.StatusCode, posts.Load())
	}
	body, _ := got.Load().([]byte)
	if !gjson.ValidBytes(body) || !strings.HasPrefix(gjson.GetBytes(body, "email").Str, crypto.Prefix) || containsAny(body, "ada@example.com") {
		t.Errorf("replayed body is not the sealed document: %s", body)
	}
}

func TestSlowBodiesOnProtectedRoutesAreCutOff(t *testing.T) {
	t.Run("upstream dribbling a protected response is a 504", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"email":`)
			http.NewResponseController(w).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}, func(o *Options) { o.BodyTimeout = 150 * time.Millisecond })
		resp, body := h.do(t, http.MethodGet, "/customers/7", nil, nil)
		if resp.StatusCode != http.StatusGatewayTimeout || errorCode(t, body) != "upstream_timeout" {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("client dribbling a protected request is a 408 and nothing is forwarded", func(t *testing.T) {
		h := newHarness(t, nil, func(o *Options) { o.BodyTimeout = 150 * time.Millisecond })
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = pw.Write([]byte(`{"email":"ada@`)) }() // and never the rest
		resp, body := h.do(t, http.MethodPost, "/customers", jsonHeader(), pr)
		if resp.StatusCode != http.StatusRequestTimeout || errorCode(t, body) != "request_timeout" {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if n := len(h.up.requests()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})
}
