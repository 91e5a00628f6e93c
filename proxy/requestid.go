package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
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

// requestIDs hands out request ids: 16 hex characters of a 64-bit counter
// that starts at a random value per process. An id only has to be unique
// (it is not a secret or a capability), and a counter gives that without a
// getrandom system call per request; the random start keeps the ids of
// several sidecars apart.
type requestIDs struct {
	next atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics on failure since Go 1.24)
	ids := &requestIDs{}
	ids.next.Store(binary.LittleEndian.Uint64(b[:]))
	return ids
}

const hexDigits = "0123456789abcdef"

// newID returns the next id.
func (ids *requestIDs) newID() string {
	v := ids.next.Add(1)
	var b [16]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}
