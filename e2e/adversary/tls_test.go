package adversarye2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/inject/apiservertest"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// testCA issues serving certificates for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "adversary test CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a certificate for 127.0.0.1 valid from notBefore to
// notAfter, and its key, to certFile and keyFile (replaced by rename, as a
// Secret volume update does).
func (ca *testCA) issue(t *testing.T, certFile, keyFile string, serial int64, notBefore, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: notBefore, NotAfter: notAfter, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	replace(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	replace(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestExpiredCertificateIsNotPutInServiceByAReload: a TLS listener reads
// its certificate files again every 30s. When the files are replaced by an
// expired pair (a renewal job that failed and left an old Secret, a
// restore of an old volume, someone with write access to the mount), the
// reload must keep the valid certificate in service and report the
// refusal: serving the expired one breaks every verifying client (probes,
// Prometheus over TLS) and trains operators to turn verification off.
func TestExpiredCertificateIsNotPutInServiceByAReload(t *testing.T) {
	ca := newTestCA(t)
	_, up := newDocStore(t)
	certFile, keyFile := apiservertest.PairFiles(t)
	ca.issue(t, certFile, keyFile, 2, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	s := sidecartest.New(t, fieldsealBin, sidecartest.Config{Upstream: up,
		FieldMap: docFieldMap + fmt.Sprintf("admin_tls:\n  cert_file: %s\n  key_file: %s\n", certFile, keyFile)})
	s.Launch(t)
	admin := "https://" + strings.TrimPrefix(s.AdminURL, "http://")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	defer client.CloseIdleConnections()
	healthz := func() error {
		client.CloseIdleConnections() // a new handshake each time
		resp, err := client.Get(admin + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz: %d", resp.StatusCode)
		}
		return nil
	}
	testproc.Poll(t, 30*time.Second, healthz)

	// An expired pair from the same CA replaces the files.
	ca.issue(t, certFile, keyFile, 3, time.Now().Add(-72*time.Hour), time.Now().Add(-time.Hour))
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
