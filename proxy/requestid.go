package proxy

import (
	"crypto/rand"
	"encoding/hex"
)

// HeaderRequestID carries the request id to the upstream and back to the client.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a client-supplied request id; longer ones are replaced.
const maxRequestIDLen = 128

// saneRequestID reports whether a client-supplied id may be reused: it ends up
// in logs and audit events, so only a short token of [A-Za-z0-9._:-] is kept.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 hex characters from crypto/rand.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics on failure since Go 1.24)
	return hex.EncodeToString(b[:])
}
