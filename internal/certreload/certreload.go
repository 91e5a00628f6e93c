package certreload

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// Reloader holds the current certificate of one listener. Its zero value is
// unusable; make one with New.
type Reloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	// lastCert and lastKey are the files' content behind cur; only Reload
	// touches them, and Run calls it from one goroutine.
	lastCert, lastKey []byte
}

// New loads the pair from certFile and keyFile; an error names the
// certificate file and never holds key material.
func New(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate returns the current pair; it is tls.Config's hook of the
// same name and never fails.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// NotAfter is the end of the current certificate's validity.
func (r *Reloader) NotAfter() time.Time {
	if c := r.cur.Load(); c != nil && c.Leaf != nil {
		return c.Leaf.NotAfter
	}
	return time.Time{}
}

// Reload reads both files and, when their content changed and they form a
// pair, puts it in service; changed reports that. On an error the previous
// pair stays in service.
func (r *Reloader) Reload() (changed bool, err error) {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return false, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return false, fmt.Errorf("read key of certificate %s: %w", r.certFile, err)
	}
	if bytes.Equal(certPEM, r.lastCert) && bytes.Equal(keyPEM, r.lastKey) {
		return false, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// X509KeyPair's messages never contain key material.
		return false, fmt.Errorf("load key pair of certificate %s: %w", r.certFile, err)
	}
	r.cur.Store(&pair)
	r.lastCert, r.lastKey = certPEM, keyPEM
	return true, nil
}

// Run calls Reload every interval until ctx is done, and reports each swap
// (changed true, err nil) and each failure (err not nil) to report, which
// may be nil.
func (r *Reloader) Run(ctx context.Context, every time.Duration, report func(changed bool, err error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := r.Reload()
		if report != nil && (changed || err != nil) {
			report(changed, err)
		}
	}
}
