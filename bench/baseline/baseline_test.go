package baseline

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/fieldseal/fieldseal/bench/measure"
	"github.com/fieldseal/fieldseal/bench/workload"
)

func TestProxy(t *testing.T) {
	var forwardedFor string
	up := workload.NewUpstream()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwardedFor = r.Header.Get("X-Forwarded-For")
		up.ServeHTTP(w, r)
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	p := NewProxy(target)
	defer p.Transport.(*http.Transport).CloseIdleConnections()
	front := httptest.NewServer(p)
	defer front.Close()

	t.Run("a POST body reaches the upstream and its echo comes back unchanged", func(t *testing.T) {
		resp, err := front.Client().Post(front.URL+"/customers", "application/json", bytes.NewReader(workload.Customer()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated || !bytes.Equal(got, workload.Customer()) {
			t.Fatalf("status %d, body %.60q", resp.StatusCode, got)
		}
		if forwardedFor != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q, want 127.0.0.1", forwardedFor)
		}
	})
	t.Run("buffers handed back are reused", func(t *testing.T) {
		bp := newBufferPool(1, 8)
		b := bp.Get()
		bp.Put(b)
		if c := bp.Get(); &c[0] != &b[0] {
			t.Error("got a new buffer, want the one put back")
		}
	})
}

func TestMetricsHandler(t *testing.T) {
	t.Run("the malloc counter is served in the text format and only grows", func(t *testing.T) {
		srv := httptest.NewServer(MetricsHandler())
		defer srv.Close()
		read := func() float64 {
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			m, err := measure.ParseMetrics(b)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := m.Value("go_memstats_mallocs_total")
			if !ok || v <= 0 {
				t.Fatalf("go_memstats_mallocs_total missing or zero in %q", b)
			}
			return v
		}
		first := read()
		if second := read(); second <= first {
			t.Errorf("counter went from %v to %v across a request that allocates", first, second)
		}
	})
}
