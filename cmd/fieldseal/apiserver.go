package main

import (
	"fmt"
	stdlog "log"
	"net"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/api"
	"github.com/fieldseal/fieldseal/config"
)

// serveAPI starts the API listener of cfg.API on h through lns: TLS when
// configured (with HTTP/2 by ALPN and the certificate reloaded), the
// proxy's header and idle timeouts. Serve's result goes to lns' errc; the
// caller shuts the returned server down with the others, which drains calls
// in flight.
func serveAPI(cfg *config.Config, h *api.API, log zerolog.Logger, lns *listeners) (*http.Server, error) {
	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen api %s: %w", cfg.API.Listen, err)
	}
	srv := &http.Server{
		Handler:           h,
		ErrorLog:          stdlog.New(log.With().Str("event", "http_server").Str("listener", "api").Logger(), "", 0),
		ReadHeaderTimeout: cfg.Limits.ReadHeaderTimeout,
		IdleTimeout:       cfg.Limits.IdleTimeout,
	}
	if err := lns.serve(srv, ln, cfg.API.TLS, "api"); err != nil {
		return nil, err
	}
	log.Info().Str("event", "api_listening").Str("listen", ln.Addr().String()).Bool("tls", cfg.API.TLS.Enabled()).
		Bool("allow_anonymous", cfg.API.AllowAnonymous).Msg("encryption API serving")
	return srv, nil
}
