// Command plainproxy is the load benchmark's baseline (case b): a plain
// net/http/httputil.ReverseProxy with a connection pool tuned the way a
// careful operator would tune it, and nothing else. Its admin listener serves
// /healthz and /metrics with go_memstats_mallocs_total, named and computed as
// the Prometheus Go collector does, so the harness reads allocations per
// request from it exactly as from fieldseal.
//
//	plainproxy -listen 127.0.0.1:8081 -upstream http://127.0.0.1:3000 -admin 127.0.0.1:9091
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime/metrics"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to proxy on")
	upstream := flag.String("upstream", "http://127.0.0.1:3000", "upstream base URL")
	admin := flag.String("admin", "127.0.0.1:9091", "admin address (/healthz, /metrics)")
	flag.Parse()
	if err := run(*listen, *upstream, *admin); err != nil {
		fmt.Fprintln(os.Stderr, "plainproxy:", err)
		os.Exit(1)
	}
}

func run(listen, upstream, admin string) error {
	target, err := url.Parse(upstream)
	if err != nil || target.Scheme != "http" || target.Host == "" {
		return fmt.Errorf("upstream %q must be http://host:port", upstream)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:  newTransport(),
		BufferPool: newBufferPool(256, 32<<10),
	}
	servers := []*http.Server{
		{Addr: listen, Handler: proxy, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second},
		{Addr: admin, Handler: adminMux(), ReadHeaderTimeout: 10 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.ListenAndServe() }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Shutdown(shutdownCtx))
	}
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newTransport is http.DefaultTransport's settings plus a pool large enough
// that no benchmark connection waits for, or churns, an upstream connection
// (the default keeps only 2 idle connections per host).
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// bufferPool recycles ReverseProxy's copy buffers through a bounded channel:
// no allocation per request, unlike sync.Pool holding a []byte (which boxes
// the slice header on every Put), and no growth beyond max buffers.
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

func adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP go_memstats_mallocs_total Total number of heap objects allocated, both live and gc-ed.\n")
		fmt.Fprintf(w, "# TYPE go_memstats_mallocs_total counter\n")
		fmt.Fprintf(w, "go_memstats_mallocs_total %d\n", mallocs())
	})
	return mux
}

// mallocs is MemStats.Mallocs without stopping the world: heap objects plus
// tiny allocations, as client_golang's Go collector computes it.
func mallocs() uint64 {
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
