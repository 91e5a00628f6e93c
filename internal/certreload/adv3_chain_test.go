package certreload_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/certreload"
)

// TestPairWithAnExpiredIntermediateIsRefused (round 3, adversary 3): a
// renewal whose leaf is valid but whose chain carries an expired
// intermediate fails every verifying client just as an expired leaf does
// (the reason Reload refuses one), yet only the leaf's validity is
// checked: the pair is put in service and replaces a good one. The test
// serves the pair over real TLS to a client that trusts the root.
func TestPairWithAnExpiredIntermediateIsRefused(t *testing.T) {
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	issue := func(serial int64, tmpl *x509.Certificate, parent *x509.Certificate, pub, signer any) *x509.Certificate {
		tmpl.SerialNumber = big.NewInt(serial)
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rootKey, interKey, leafKey := newKey(), newKey(), newKey()
	ca := func(cn string, from, to time.Time) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: from, NotAfter: to,
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	root := issue(1, ca("root", now.Add(-48*time.Hour), now.Add(48*time.Hour)), nil, &rootKey.PublicKey, rootKey)
	leafTmpl := func(from, to time.Time) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: "fieldseal"}, DNSNames: []string{"fieldseal.test"},
			NotBefore: from, NotAfter: to, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	}

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(chain ...*x509.Certificate) {
		var certPEM []byte
		for _, c := range chain {
			certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		der, err := x509.MarshalECPrivateKey(leafKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// In service: a leaf signed by an intermediate valid now.
	good := issue(2, ca("intermediate", now.Add(-time.Hour), now.Add(24*time.Hour)), root, &interKey.PublicKey, rootKey)
	write(issue(3, leafTmpl(now.Add(-time.Hour), now.Add(24*time.Hour)), good, &leafKey.PublicKey, interKey), good)
	r, err := certreload.New(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	handshake := func() error {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "fieldseal.test"})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := handshake(); err != nil {
		t.Fatalf("control: the pair in service does not verify: %v", err)
	}

	// The renewal: a valid leaf under an intermediate that expired an hour ago.
	expired := issue(4, ca("intermediate", now.Add(-48*time.Hour), now.Add(-time.Hour)), root, &interKey.PublicKey, rootKey)
	write(issue(5, leafTmpl(now.Add(-time.Hour), now.Add(24*time.Hour)), expired, &leafKey.PublicKey, interKey), expired)
	changed, err := r.Reload()
	if changed {
		t.Errorf("Reload put a chain with an expired intermediate in service (err %v)", err)
	}
	if err := handshake(); err != nil {
		t.Errorf("after the reload a client trusting the root fails: %v", err)
	}
}
