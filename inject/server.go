package inject

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// ServerOptions configure Run.
type ServerOptions struct {
	// Addr to listen on (default ":8443"); ignored when Listener is set.
	Addr string
	// Listener, when set, is served instead of listening on Addr (tests).
	Listener net.Listener
	// CertFile and KeyFile are the PEM certificate (chain) and key. They are
	// re-read every ReloadInterval and swapped in when their content changes.
	CertFile, KeyFile string
	// Config holds the injection defaults.
	Config Config
	// ReloadInterval between certificate file checks (default 10s).
	ReloadInterval time.Duration
	// ShutdownTimeout bounds draining in-flight reviews (default 10s).
	ShutdownTimeout time.Duration
	Logger          zerolog.Logger
	// Registerer receives the fieldseal_inject_* metrics; when Gatherer is
	// also set, /metrics serves it.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// Run serves the webhook over TLS until ctx is done: POST /mutate (the
// AdmissionReview endpoint), GET /healthz, and /metrics when a Gatherer is
// given. It fails at once if the config or the certificate cannot be loaded,
// and drains in-flight requests on shutdown.
func Run(ctx context.Context, opts ServerOptions) error {
	if opts.Addr == "" {
		opts.Addr = ":8443"
	}
	if opts.ReloadInterval <= 0 {
		opts.ReloadInterval = 10 * time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	m := newMetrics(opts.Registerer)
	h, err := NewHandler(opts.Config, HandlerOptions{Logger: opts.Logger})
	if err != nil {
		return err
	}
	h.metrics = m
	certs := &certReloader{certFile: opts.CertFile, keyFile: opts.KeyFile, log: opts.Logger, metrics: m}
	if _, err := certs.reload(); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/mutate", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	if opts.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          nil,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: certs.get,
		},
	}
	ln := opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", opts.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", opts.Addr, err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reloadDone := make(chan struct{})
	go func() {
		defer close(reloadDone)
		certs.run(ctx, opts.ReloadInterval)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	opts.Logger.Info().Str("event", "inject_listening").Str("addr", ln.Addr().String()).Send()

	select {
	case err = <-serveErr:
		cancel()
		<-reloadDone
		return fmt.Errorf("serve webhook: %w", err)
	case <-ctx.Done():
	}
	<-reloadDone
	sctx, scancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer scancel()
	err = srv.Shutdown(sctx)
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shut down webhook: %w", err)
	}
	return nil
}

// certReloader serves the last good certificate and swaps in a new one when
// the files' content changes (a Secret volume update replaces both files).
type certReloader struct {
	certFile, keyFile string
	log               zerolog.Logger
	metrics           *metrics
	cur               atomic.Pointer[tls.Certificate]
	lastCert, lastKey []byte // only touched by reload, which run serialises
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// reload reads both files and installs the pair if it changed; a bad pair
// keeps the previous certificate.
func (c *certReloader) reload() (bool, error) {
	certPEM, err := os.ReadFile(c.certFile)
	if err != nil {
		return false, fmt.Errorf("read webhook certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(c.keyFile)
	if err != nil {
		return false, fmt.Errorf("read webhook key: %w", err)
	}
	if bytes.Equal(certPEM, c.lastCert) && bytes.Equal(keyPEM, c.lastKey) {
		return false, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The message of X509KeyPair never contains key material.
		return false, fmt.Errorf("load webhook key pair %s: %w", c.certFile, err)
	}
	c.cur.Store(&pair)
	c.lastCert, c.lastKey = certPEM, keyPEM
	if pair.Leaf != nil {
		c.metrics.certNotAfter.Set(float64(pair.Leaf.NotAfter.Unix()))
	}
	return true, nil
}

func (c *certReloader) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := c.reload()
		switch {
		case err != nil:
			c.metrics.certReloads.WithLabelValues("error").Inc()
			c.log.Error().Str("event", "inject_cert_reload_failed").Err(err).Msg("keeping the previous certificate")
		case changed:
			c.metrics.certReloads.WithLabelValues("ok").Inc()
			c.log.Info().Str("event", "inject_cert_reloaded").Str("file", c.certFile).Send()
		}
	}
}
