package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/internal/certreload"
	"github.com/fieldseal/fieldseal/internal/promreg"
)

// certReloadInterval is how often a listener's certificate files are read
// again: a Secret volume that cert-manager renews changes within about a
// minute (the kubelet's sync period), well inside any renewBefore.
const certReloadInterval = 30 * time.Second

// Listeners, as the listener label of the TLS metrics names them, and the
// config section that gives each its certificate.
var tlsSections = map[string]string{"proxy": "tls", "admin": "admin_tls", "api": "api.tls"}

// listeners starts the process's HTTP servers: each over TLS when its
// config section names a certificate, with the certificate reloaded until
// ctx is done and its expiry exported.
type listeners struct {
	ctx     context.Context
	log     zerolog.Logger
	errc    chan<- error
	expiry  *prometheus.GaugeVec
	reloads *prometheus.CounterVec
}

func newListeners(ctx context.Context, log zerolog.Logger, reg prometheus.Registerer, errc chan<- error) *listeners {
	return &listeners{
		ctx: ctx, log: log, errc: errc,
		expiry: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fieldseal_tls_certificate_expiry_timestamp_seconds",
			Help: "End of validity of the certificate a TLS listener serves, in Unix seconds.",
		}, []string{"listener"})),
		reloads: promreg.CounterVec(reg, "fieldseal_tls_certificate_reloads_total",
			"Renewed certificates a TLS listener put in service (ok) or refused, keeping the previous one (error).", "listener", "result"),
	}
}

// serve serves srv on ln in a goroutine whose result goes to errc: over TLS
// (TLS 1.2 or later, HTTP/2 by ALPN) when t names a certificate, plain HTTP
// otherwise. listener is a key of tlsSections. The certificate and key are
// loaded here (an error closes ln and names the config section) and read
// again every certReloadInterval, so a renewed certificate is served
// without a restart; a renewal that does not load keeps the previous pair
// and is logged and counted.
func (l *listeners) serve(srv *http.Server, ln net.Listener, t config.TLS, listener string) error {
	if !t.Enabled() {
		go func() { l.errc <- srv.Serve(ln) }()
		return nil
	}
	certs, err := certreload.New(t.CertFile, t.KeyFile)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("load %s certificate: %w", tlsSections[listener], err)
	}
	l.expiry.WithLabelValues(listener).Set(float64(certs.NotAfter().Unix()))
	srv.TLSConfig = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
	go certs.Run(l.ctx, certReloadInterval, func(_ bool, err error) {
		if err != nil {
			l.reloads.WithLabelValues(listener, "error").Inc()
			l.log.Error().Str("event", "tls_reload_failed").Str("listener", listener).Err(err).Msg("keeping the previous certificate")
			return
		}
		l.reloads.WithLabelValues(listener, "ok").Inc()
		l.expiry.WithLabelValues(listener).Set(float64(certs.NotAfter().Unix()))
		l.log.Info().Str("event", "tls_reloaded").Str("listener", listener).Time("not_after", certs.NotAfter()).Msg("serving a renewed certificate")
	})
	go func() { l.errc <- srv.ServeTLS(ln, "", "") }()
	return nil
}
