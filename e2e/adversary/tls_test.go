package adversarye2e_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/inject/apiservertest"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestExpiredCertificateIsNotPutInServiceByAReload: a TLS listener reads
// its certificate files again every 30s. When the files are replaced by an
// expired pair (a renewal job that failed and left an old Secret, a
// restore of an old volume, someone with write access to the mount), the
// reload must keep the valid certificate in service and report the
// refusal: serving the expired one breaks every verifying client (probes,
// Prometheus over TLS) and trains operators to turn verification off.
func TestExpiredCertificateIsNotPutInServiceByAReload(t *testing.T) {
	ca := apiservertest.NewCA(t)
	_, up := newDocStore(t)
	certFile, keyFile := apiservertest.PairFiles(t)
	ca.Issue(t, 2, pkix.Name{CommonName: "127.0.0.1"}, x509.ExtKeyUsageServerAuth, certFile, keyFile) // valid for a day
	s := sidecartest.New(t, fieldsealBin, sidecartest.Config{Upstream: up,
		FieldMap: docFieldMap + fmt.Sprintf("admin_tls:\n  cert_file: %s\n  key_file: %s\n", certFile, keyFile)})
	s.Launch(t)
	admin := "https://" + strings.TrimPrefix(s.AdminURL, "http://")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	defer client.CloseIdleConnections()
	healthz := func() error {
		client.CloseIdleConnections() // a new handshake each time
		return sidecartest.GetOK(client, admin+"/healthz")
	}
	testproc.Poll(t, 30*time.Second, healthz)

	// An expired pair from the same CA replaces the files.
	ca.IssueValid(t, 3, pkix.Name{CommonName: "127.0.0.1"}, x509.ExtKeyUsageServerAuth, time.Now().Add(-72*time.Hour), time.Now().Add(-time.Hour), certFile, keyFile)
	// The listener reads the files every 30s; it logs tls_reloaded or
	// tls_reload_failed once it has.
	testproc.Poll(t, 75*time.Second, func() error {
		ev := s.LogEvents(t)
		if ev["tls_reloaded"]+ev["tls_reload_failed"] == 0 {
			return fmt.Errorf("the admin listener has not read its certificate files again yet")
		}
		return nil
	})
	if err := healthz(); err != nil {
		t.Fatalf("after a reload of an expired certificate the admin listener fails a verifying client: %v (log events %v)", err, s.LogEvents(t))
	}
}
