package apiservertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a private certificate authority for tests: the API server's PKI,
// and the webhook's serving certificates in the injector's tests.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  []byte         // Cert, PEM-encoded
	Pool *x509.CertPool // holds only Cert, for a client's RootCAs
}

// NewCA makes a P-256 CA valid from an hour ago for a day (by time.Now, so
// inside a testing/synctest bubble by the bubble's clock).
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fieldseal-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Pool: pool}
}

// Issue writes a leaf certificate and its PKCS #8 key, PEM-encoded, to
// certFile and keyFile: for 127.0.0.1, localhost and the injector's
// Service name, with the given serial and extended key usage, valid from
// an hour ago for a day. Each file is written under a
// temporary name and renamed, as the kubelet swaps Secret volumes.
func (ca *CA) Issue(t testing.TB, serial int64, subject pkix.Name, usage x509.ExtKeyUsage, certFile, keyFile string) {
	t.Helper()
	ca.IssueValid(t, serial, subject, usage, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), certFile, keyFile)
}

// IssueValid is Issue of a certificate valid from notBefore to notAfter,
// which may both lie in the past (an expired certificate).
func (ca *CA) IssueValid(t testing.TB, serial int64, subject pkix.Name, usage x509.ExtKeyUsage, notBefore, notAfter time.Time, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: subject,
		DNSNames:    []string{"localhost", "fieldseal-injector.fieldseal-system.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for path, blk := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path+".tmp", pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
}

// IssueServing is Issue of a server certificate for the injector's
// Service, with serial 2.
func (ca *CA) IssueServing(t testing.TB, certFile, keyFile string) {
	t.Helper()
	ca.Issue(t, 2, pkix.Name{CommonName: "fieldseal-injector.fieldseal-system.svc"}, x509.ExtKeyUsageServerAuth, certFile, keyFile)
}

// PairFiles returns the paths of a serving pair, tls.crt and tls.key, in a
// new temporary directory, as a kubernetes.io/tls Secret is mounted. No
// file is written.
func PairFiles(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	return filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
}

// Renewer returns a function that issues (Issue) a server certificate for
// the common name cn with the given serial to certFile and keyFile, as a
// certificate manager renews a mounted pair in place.
func (ca *CA) Renewer(t testing.TB, cn, certFile, keyFile string) func(serial int64) {
	return func(serial int64) {
		t.Helper()
		ca.Issue(t, serial, pkix.Name{CommonName: cn}, x509.ExtKeyUsageServerAuth, certFile, keyFile)
	}
}
