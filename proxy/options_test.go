package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestOptionsCarryTheLimits checks that the limits in Options reach the
// transport and the body check; cmd/fieldseal tests that the configuration
// fills them.
func TestOptionsCarryTheLimits(t *testing.T) {
	h := newHarness(t, nil, nil) // only for its upstream and ring
	opts := Options{
		Upstream:               h.up.url(t),
		Routes:                 testMap(t),
		LeaveSealedOnOpenError: true,
		MaxBodyBytes:           100,
		UpstreamTimeout:        7 * time.Second,
		MaxIdleConnsPerHost:    3,
		IdleConnTimeout:        11 * time.Second,
		Keys:                   h.keys,
		Logger:                 zerolog.Nop(),
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	if p.transport.ResponseHeaderTimeout != 7*time.Second || p.transport.MaxIdleConnsPerHost != 3 ||
		p.transport.IdleConnTimeout != 11*time.Second || !p.keepOnError {
		t.Errorf("transport %v/%d/%v, keep on error %v", p.transport.ResponseHeaderTimeout, p.transport.MaxIdleConnsPerHost,
			p.transport.IdleConnTimeout, p.keepOnError)
	}
	// The configured body limit applies, and nothing reaches the upstream.
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest(http.MethodPost, "/customers", strings.NewReader(customer))
	req.Header.Set("Content-Type", "application/json")
	p.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d for a body over max_body_bytes", rec.Code)
	}
	if n := len(h.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests for a refused body", n)
	}
}
