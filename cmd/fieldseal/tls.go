package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/internal/certreload"
)

// certReloadInterval is how often a listener's certificate files are read
// again: a Secret volume that cert-manager renews changes within about a
// minute (the kubelet's sync period), well inside any renewBefore.
const certReloadInterval = 30 * time.Second

// serveOn serves srv on ln in a goroutine whose result goes to errc: over
// TLS (TLS 1.2 or later, HTTP/2 by ALPN) when t names a certificate, plain
// HTTP otherwise. The certificate and key are loaded here (an error closes
// ln and names section, the config key) and read again every
// certReloadInterval until ctx is done, so a renewed certificate is served
// without a restart; a renewal that does not load keeps the previous pair
// and is logged.
func serveOn(ctx context.Context, srv *http.Server, ln net.Listener, t config.TLS, section string, log zerolog.Logger, errc chan<- error) error {
	if !t.Enabled() {
		go func() { errc <- srv.Serve(ln) }()
		return nil
	}
	certs, err := certreload.New(t.CertFile, t.KeyFile)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("load %s certificate: %w", section, err)
	}
	srv.TLSConfig = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
	go certs.Run(ctx, certReloadInterval, func(_ bool, err error) {
		if err != nil {
			log.Error().Str("event", "tls_reload_failed").Str("section", section).Err(err).Msg("keeping the previous certificate")
			return
		}
		log.Info().Str("event", "tls_reloaded").Str("section", section).Time("not_after", certs.NotAfter()).Msg("serving a renewed certificate")
	})
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	return nil
}
