package bench

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/fieldseal/fieldseal/bench/baseline"
	"github.com/fieldseal/fieldseal/bench/workload"
)

// These benchmarks run client, proxy and upstream in one process over real
// loopback sockets: allocs/op and ns/op count all three, so they compare
// before/after one change (benchstat), not against the multi-process report.

func benchThrough(b *testing.B, handler http.Handler, method, path string, body []byte) {
	b.Helper()
	front := httptest.NewServer(handler)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(method, front.URL+path, bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				b.Errorf("%s %s: status %d", method, path, resp.StatusCode)
				return
			}
		}
	})
}

func newUpstream(b *testing.B) *url.URL {
	b.Helper()
	srv := httptest.NewServer(workload.NewUpstream())
	b.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	return u
}

func BenchmarkDirectPost1KB(b *testing.B) {
	benchThrough(b, workload.NewUpstream(), http.MethodPost, "/customers", workload.Customer())
}

func BenchmarkPlainProxyPost1KB(b *testing.B) {
	p := baseline.NewProxy(newUpstream(b))
	defer p.Transport.(*http.Transport).CloseIdleConnections()
	benchThrough(b, p, http.MethodPost, "/customers", workload.Customer())
}

func BenchmarkPlainProxyGetList20KB(b *testing.B) {
	p := baseline.NewProxy(newUpstream(b))
	defer p.Transport.(*http.Transport).CloseIdleConnections()
	benchThrough(b, p, http.MethodGet, "/customers", nil)
}
