package certreload_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fieldseal/fieldseal/inject/apiservertest"
	"github.com/fieldseal/fieldseal/internal/certreload"
)

func serial(t *testing.T, r *certreload.Reloader) int64 {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || c == nil || c.Leaf == nil {
		t.Fatalf("GetCertificate: %v %v", c, err)
	}
	return c.Leaf.SerialNumber.Int64()
}

func TestReloaderFollowsRenewedFiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		certFile, keyFile := apiservertest.PairFiles(t)
		ca := apiservertest.NewCA(t)
		issue := ca.Renewer(t, "shop-api.shop.svc", certFile, keyFile)
		issue(10)
		r, err := certreload.New(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if got := serial(t, r); got != 10 || r.NotAfter().IsZero() {
			t.Fatalf("first certificate: serial %d, not after %v", got, r.NotAfter())
		}
		type result struct {
			changed bool
			err     error
		}
		var mu sync.Mutex
		var reports []result
		got := func() []result { mu.Lock(); defer mu.Unlock(); return append([]result(nil), reports...) }
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.Run(ctx, 10*time.Second, func(changed bool, err error) { mu.Lock(); reports = append(reports, result{changed, err}); mu.Unlock() })
		}()

		// Subtests cannot run in a synctest bubble: the steps follow in order.
		// Unchanged files are not reported.
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if rs := got(); len(rs) != 0 {
			t.Errorf("reports %v for unchanged files", rs)
		}
		// A renewed pair is served after the next check.
		issue(11)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if s, rs := serial(t, r), got(); s != 11 || len(rs) != 1 || !rs[0].changed {
			t.Errorf("serial %d, reports %v; want 11 after one reported swap", s, rs)
		}
		// A key that does not match keeps the previous pair and is reported.
		{
			other := t.TempDir()
			ca.Issue(t, 12, pkix.Name{CommonName: "x"}, x509.ExtKeyUsageServerAuth, filepath.Join(other, "c"), filepath.Join(other, "k"))
			key, _ := os.ReadFile(filepath.Join(other, "k"))
			if err := os.WriteFile(keyFile, key, 0o600); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Second)
			synctest.Wait()
			if s := serial(t, r); s != 11 {
				t.Errorf("serial %d after a mismatched key, want 11 kept", s)
			}
			rs := got()
			if last := rs[len(rs)-1]; last.err == nil || strings.Contains(last.err.Error(), "PRIVATE KEY") {
				t.Errorf("last report %v: want an error without key material", last)
			}
		}
		cancel()
		<-done
	})
}

func TestNewRefusesAMissingPair(t *testing.T) {
	if _, err := certreload.New(apiservertest.PairFiles(t)); err == nil || !strings.Contains(err.Error(), "read certificate") {
		t.Errorf("New without files: %v", err)
	}
}

// An expired pair is never put in service: not at start, and not by a
// reload, which keeps the valid pair and reports the refusal.
func TestExpiredPairIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		ca := apiservertest.NewCA(t)
		files := func(name string) (string, string) {
			return filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		}
		oldCert, oldKey := files("old")
		ca.Issue(t, 1, pkix.Name{CommonName: "old"}, x509.ExtKeyUsageServerAuth, oldCert, oldKey) // valid for a day
		time.Sleep(25 * time.Hour)

		if _, err := certreload.New(oldCert, oldKey); !errors.Is(err, certreload.ErrNotValidNow) || !strings.Contains(err.Error(), oldCert) {
			t.Fatalf("New with an expired pair: %v, want ErrNotValidNow naming %s", err, oldCert)
		}

		certFile, keyFile := files("tls")
		ca.Issue(t, 2, pkix.Name{CommonName: "new"}, x509.ExtKeyUsageServerAuth, certFile, keyFile)
		r, err := certreload.New(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		for src, dst := range map[string]string{oldCert: certFile, oldKey: keyFile} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if changed, err := r.Reload(); changed || !errors.Is(err, certreload.ErrNotValidNow) {
			t.Errorf("Reload of an expired pair: changed %v, err %v; want ErrNotValidNow", changed, err)
		}
		if s := serial(t, r); s != 2 {
			t.Errorf("serial %d after reloading an expired pair, want 2 kept", s)
		}
	})
}

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

	certFile, keyFile := apiservertest.PairFiles(t)
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
