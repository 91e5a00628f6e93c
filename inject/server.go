package inject

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/internal/certreload"
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
	certs, err := loadWebhookCert(opts.CertFile, opts.KeyFile, opts.Logger, m)
	if err != nil {
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
			GetCertificate: certs.GetCertificate,
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

// webhookCert is the webhook's certificate: an internal/certreload Reloader
// whose swaps and failures go to the injector's log and metrics.
type webhookCert struct {
	*certreload.Reloader
	certFile string
	log      zerolog.Logger
	metrics  *metrics
}

// loadWebhookCert loads the pair (an error stops Run) and sets the expiry
// gauge.
func loadWebhookCert(certFile, keyFile string, log zerolog.Logger, m *metrics) (*webhookCert, error) {
	r, err := certreload.New(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load webhook certificate: %w", err)
	}
	c := &webhookCert{Reloader: r, certFile: certFile, log: log, metrics: m}
	c.setExpiry()
	return c, nil
}

func (c *webhookCert) setExpiry() {
	if na := c.NotAfter(); !na.IsZero() {
		c.metrics.certNotAfter.Set(float64(na.Unix()))
	}
}

// run re-reads the files every interval until ctx is done; a bad pair keeps
// the previous certificate and counts an error.
func (c *webhookCert) run(ctx context.Context, every time.Duration) {
	c.Run(ctx, every, func(_ bool, err error) {
		if err != nil {
			c.metrics.certReloads.WithLabelValues("error").Inc()
			c.log.Error().Str("event", "inject_cert_reload_failed").Err(err).Msg("keeping the previous certificate")
			return
		}
		c.metrics.certReloads.WithLabelValues("ok").Inc()
		c.setExpiry()
		c.log.Info().Str("event", "inject_cert_reloaded").Str("file", c.certFile).Send()
	})
}
