package crypto

import "io"

// WithNonces returns a copy of r whose random-mode nonces are read from src.
// It exists only in tests, to check the FORMAT.md test vector.
func WithNonces(r *Keyring, src io.Reader) *Keyring {
	c := *r
	c.nonces = src
	return &c
}
