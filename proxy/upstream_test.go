package proxy

import (
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
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
	} {
		t.Run(sub.name, sub.fn)
	}
	if after := settle(before); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
