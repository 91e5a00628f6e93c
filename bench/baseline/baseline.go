// Package baseline is the benchmark's case (b): a plain
// net/http/httputil.ReverseProxy with a tuned connection pool and nothing
// else, the bar fieldseal is compared against. It also serves the allocation
// counter the harness reads from every proxy.
package baseline

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime/metrics"
	"time"
)

// NewProxy returns a ReverseProxy to target (http://host:port) as a careful
// operator would set one up: X-Forwarded-* headers, a pool large enough that
// no connection waits for or churns an upstream connection (the default
// keeps only 2 idle per host), bounded timeouts, and pooled copy buffers.
func NewProxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		BufferPool: newBufferPool(256, 32<<10),
	}
}

// bufferPool recycles ReverseProxy's copy buffers through a bounded channel:
// no allocation per request, unlike a sync.Pool of []byte (which boxes the
// slice header on every Put), and never more than max idle buffers.
type bufferPool struct {
	free chan []byte
	size int
}

func newBufferPool(max, size int) *bufferPool {
	return &bufferPool{free: make(chan []byte, max), size: size}
}

func (p *bufferPool) Get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		return make([]byte, p.size)
	}
}

func (p *bufferPool) Put(b []byte) {
	select {
	case p.free <- b:
	default:
	}
}

// MetricsHandler serves go_memstats_mallocs_total in the Prometheus text
// format, named and computed as client_golang's Go collector does, so the
// harness reads allocations per request the same way from this proxy as from
// fieldseal, without a metrics dependency here.
func MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprintf(w, "# HELP go_memstats_mallocs_total Total number of heap objects allocated, both live and gc-ed.\n")
		fmt.Fprintf(w, "# TYPE go_memstats_mallocs_total counter\n")
		fmt.Fprintf(w, "go_memstats_mallocs_total %d\n", Mallocs())
	})
}

// Mallocs is runtime.MemStats.Mallocs without stopping the world: heap
// objects plus tiny allocations, read from runtime/metrics.
func Mallocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/tiny/allocs:objects"}}
	metrics.Read(s)
	var n uint64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			n += v.Value.Uint64()
		}
	}
	return n
}
