package certreload_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
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
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
		ca := apiservertest.NewCA(t)
		issue := func(serial int64) {
			ca.Issue(t, serial, pkix.Name{CommonName: "shop-api.shop.svc"}, x509.ExtKeyUsageServerAuth, certFile, keyFile)
		}
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
			other := filepath.Join(dir, "other")
			if err := os.Mkdir(other, 0o700); err != nil {
				t.Fatal(err)
			}
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
	dir := t.TempDir()
	if _, err := certreload.New(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")); err == nil || !strings.Contains(err.Error(), "read certificate") {
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
