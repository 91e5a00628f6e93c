package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/fieldmap"
)

func TestOptionsFromConfigCarryTheLimits(t *testing.T) {
	h := newHarness(t, nil, nil) // only for its upstream and ring
	yaml := strings.Replace(testConfig, "upstream: http://127.0.0.1:3000", "upstream: "+h.up.srv.URL, 1) + `
limits:
  max_body_bytes: 100
  upstream_timeout: 7s
  max_idle_conns_per_host: 3
  idle_timeout: 11s
on_open_error: sealed
`
	cfg, err := config.Parse([]byte(yaml), "limits.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := fieldmap.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := OptionsFromConfig(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Upstream.String() != h.up.srv.URL || opts.MaxBodyBytes != 100 || opts.UpstreamTimeout != 7*time.Second ||
		opts.MaxIdleConnsPerHost != 3 || opts.IdleConnTimeout != 11*time.Second || !opts.LeaveSealedOnOpenError || opts.Routes != m {
		t.Fatalf("options %+v", opts)
	}
	opts.Keys, opts.Logger = h.keys, zerolog.Nop()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	if p.transport.ResponseHeaderTimeout != 7*time.Second || p.transport.MaxIdleConnsPerHost != 3 || !p.keepOnError {
		t.Errorf("transport %v/%d, keep on error %v", p.transport.ResponseHeaderTimeout, p.transport.MaxIdleConnsPerHost, p.keepOnError)
	}
	// The configured body limit applies.
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest(http.MethodPost, "/customers", strings.NewReader(customer))
	req.Header.Set("Content-Type", "application/json")
	p.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d for a body over max_body_bytes", rec.Code)
	}
}
