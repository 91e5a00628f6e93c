package crypto

import "io"

// WithNonces returns a copy of r that seals random mode the way earlier
// releases did (alg 1, AES-256-GCM) with nonces read from src. It exists
// only in tests: for the FORMAT.md test vector, for deterministic fuzz
// seeds and for values "sealed by an earlier release".
func WithNonces(r *Keyring, src io.Reader) *Keyring {
	c := *r
	c.legacyNonces = src
	return &c
}
