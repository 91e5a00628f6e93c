// Command plainproxy is the load benchmark's baseline (case b): the
// baseline package's tuned net/http/httputil.ReverseProxy, and nothing else.
// Its admin listener serves /healthz and /metrics with
// go_memstats_mallocs_total, so the harness reads allocations per request
// from it exactly as from fieldseal.
//
//	plainproxy -listen 127.0.0.1:8081 -upstream http://127.0.0.1:3000 -admin 127.0.0.1:9091
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fieldseal/fieldseal/bench/baseline"
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

	proxy := baseline.NewProxy(target)
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

func adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("GET /metrics", baseline.MetricsHandler())
	return mux
}
