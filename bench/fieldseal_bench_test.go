package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/bench/workload"
	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/proxy"
)

// newFieldseal builds the proxy package's handler with the benchmark's field
// map (workload.FieldsealConfig, compiled by the real config and fieldmap
// packages) and a real local key ring behind a keycache.Cache, then seeds the
// upstream's fixtures through it so GETs open real ciphertext.
func newFieldseal(tb testing.TB, upstream *url.URL) http.Handler {
	tb.Helper()
	ring, mk := sidecartest.LocalRing(tb)
	cfg, err := config.Parse(workload.FieldsealConfig("127.0.0.1:8080", "127.0.0.1:9090", upstream.Host, ring), "bench.yaml")
	if err != nil {
		tb.Fatalf("parse bench config: %v", err)
	}
	routes, err := fieldmap.Compile(cfg.FieldMap())
	if err != nil {
		tb.Fatalf("compile bench field map: %v", err)
	}
	keys := keycache.New(localkeys.New(ring, mk), keycache.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := keys.Refresh(ctx); err != nil {
		tb.Fatalf("load key ring: %v", err)
	}
	p, err := proxy.New(proxy.Options{Upstream: upstream, Routes: routes, Keys: keys, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatalf("new proxy: %v", err)
	}
	tb.Cleanup(p.CloseIdleConnections)
	for _, seed := range []struct {
		name string
		doc  []byte
	}{{workload.FixtureCustomer, workload.Customer()}, {workload.FixtureList, workload.List()}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/seed/"+seed.name, bytes.NewReader(seed.doc))
		req.Header.Set("Content-Type", "application/json")
		p.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			tb.Fatalf("seed %s: status %d: %s", seed.name, rec.Code, rec.Body.Bytes())
		}
	}
	return p
}

func TestFieldsealBenchSetup(t *testing.T) {
	up := workload.NewUpstream()
	srv := httptest.NewServer(up)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	p := newFieldseal(t, u)
	t.Run("the upstream stores the seeded customer sealed", func(t *testing.T) {
		if bytes.Contains(up.Fixture(workload.FixtureCustomer), []byte("jane.example@example.com")) {
			t.Fatal("the upstream holds the plaintext e-mail address")
		}
	})
	t.Run("a GET through fieldseal opens it back to the original", func(t *testing.T) {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, workload.PathSealedGet, nil))
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), workload.Customer()) {
			t.Fatalf("status %d, body %.80q", rec.Code, rec.Body.Bytes())
		}
	})
	t.Run("a POST through fieldseal comes back as the plaintext it sent", func(t *testing.T) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, workload.PathSealedPost, bytes.NewReader(workload.Customer()))
		req.Header.Set("Content-Type", "application/json")
		p.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated || !bytes.Equal(rec.Body.Bytes(), workload.Customer()) {
			t.Fatalf("status %d, body %.80q", rec.Code, rec.Body.Bytes())
		}
	})
}

func BenchmarkFieldsealPassthroughPost1KB(b *testing.B) {
	benchThrough(b, newFieldseal(b, newUpstream(b)), http.MethodPost, workload.PathPlainPost, workload.Customer())
}

func BenchmarkFieldsealPost1KB(b *testing.B) {
	benchThrough(b, newFieldseal(b, newUpstream(b)), http.MethodPost, workload.PathSealedPost, workload.Customer())
}

func BenchmarkFieldsealGet1KB(b *testing.B) {
	benchThrough(b, newFieldseal(b, newUpstream(b)), http.MethodGet, workload.PathSealedGet, nil)
}

func BenchmarkFieldsealGetList20KB(b *testing.B) {
	benchThrough(b, newFieldseal(b, newUpstream(b)), http.MethodGet, workload.PathSealedList, nil)
}
