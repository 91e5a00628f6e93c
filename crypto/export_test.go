package crypto

import "io"

// WithNonces returns a copy of r whose random-mode nonces are read from src.
// It exists only in tests, to check the FORMAT.md test vector.
func WithNonces(r *Keyring, src io.Reader) *Keyring {
	c := *r
	c.nonces = src
	return &c
}

// OnJoin makes every Refresh call f once it shares (or started) the
// in-flight load, so a test can release the load only after all callers
// joined it.
func OnJoin(c *Cache, f func()) { c.joined = f }
