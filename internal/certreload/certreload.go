package certreload

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/fieldseal/fieldseal/internal/periodic"
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
// certificate file and never holds key material. A certificate that is not
// valid now (expired, or not yet valid) is refused with ErrNotValidNow: a
// listener that starts with one fails every verifying client.
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

// ErrNotValidNow is the error of a certificate whose validity period
// (NotBefore to NotAfter, RFC 5280 section 4.1.2.5) does not include the
// current time.
var ErrNotValidNow = errors.New("certificate is not valid now")

// Reload reads both files and, when their content changed and they form a
// pair whose certificates (leaf and intermediates) are valid now, puts it
// in service; changed reports that. On an error (unreadable files, no pair, ErrNotValidNow) the
// previous pair stays in service: an expired renewal (a failed renewal
// job, an old volume restored) would fail every verifying client, while
// the previous pair may still be valid.
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
	if err := validNow(pair, time.Now()); err != nil {
		return false, fmt.Errorf("load certificate %s: %w", r.certFile, err)
	}
	r.cur.Store(&pair)
	r.lastCert, r.lastKey = certPEM, keyPEM
	return true, nil
}

// validNow checks that every certificate of the chain the pair serves (the
// leaf, which X509KeyPair parses, and the intermediates after it) is valid
// at now: a client verifying the chain rejects it when any of them is
// expired or not yet valid (RFC 5280 section 6.1.3, step (a)(2)).
func validNow(pair tls.Certificate, now time.Time) error {
	for i, der := range pair.Certificate {
		c := pair.Leaf
		if i > 0 {
			var err error
			if c, err = x509.ParseCertificate(der); err != nil {
				return fmt.Errorf("certificate %d of the chain: %w", i+1, err)
			}
		}
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			what := "leaf"
			if i > 0 {
				what = fmt.Sprintf("certificate %d of the chain (%s)", i+1, c.Subject.CommonName)
			}
			return fmt.Errorf("%s: %w: valid from %s to %s", what, ErrNotValidNow,
				c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// Run calls Reload every interval until ctx is done, and reports each swap
// (changed true, err nil) and each failure (err not nil) to report, which
// may be nil.
func (r *Reloader) Run(ctx context.Context, every time.Duration, report func(changed bool, err error)) {
	periodic.Run(ctx, every, func() {
		changed, err := r.Reload()
		if report != nil && (changed || err != nil) {
			report(changed, err)
		}
	})
}
