package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/fieldseal/fieldseal/config"
)

// serveOn serves srv on ln in a goroutine whose result goes to errc: over
// TLS (TLS 1.2 or later, HTTP/2 by ALPN) when t names a certificate, plain
// HTTP otherwise. The certificate and key are read once, here; section is
// the config key named in the error when they cannot be loaded, and ln is
// closed then.
func serveOn(srv *http.Server, ln net.Listener, t config.TLS, section string, errc chan<- error) error {
	if !t.Enabled() {
		go func() { errc <- srv.Serve(ln) }()
		return nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("load %s certificate %s: %w", section, t.CertFile, err)
	}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	return nil
}
