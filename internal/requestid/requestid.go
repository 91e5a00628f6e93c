// Package requestid hands out and vets the request ids fieldseal's
// listeners (the proxy and the API) tag every request, log line, audit event
// and error body with. A client may send its own id in X-Request-Id; it is
// kept only if Sane, since it ends up in logs and the audit trail.
package requestid

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// Header carries the request id from the client, to the upstream and back.
const Header = "X-Request-Id"

// MaxLen bounds a client-supplied request id; longer ones are replaced.
const MaxLen = 128

// Sane reports whether a client-supplied id may be reused: a non-empty
// token of at most MaxLen characters of [A-Za-z0-9._:-].
func Sane(id string) bool {
	if id == "" || len(id) > MaxLen {
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

// Generator hands out ids: 16 hex characters of a 64-bit counter that
// starts at a random value per Generator. An id only has to be unique (it
// is not a secret or a capability), and a counter gives that without a
// getrandom system call per request; the random start keeps the ids of
// several sidecars (and listeners) apart. It is safe for concurrent use.
type Generator struct {
	next atomic.Uint64
}

// NewGenerator returns a Generator starting at a random value.
func NewGenerator() *Generator {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics on failure since Go 1.24)
	g := &Generator{}
	g.next.Store(binary.LittleEndian.Uint64(b[:]))
	return g
}

const hexDigits = "0123456789abcdef"

// Next returns the next id.
func (g *Generator) Next() string {
	v := g.next.Add(1)
	var b [16]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// FromHeader returns id (a client's X-Request-Id) when it is Sane,
// else the next id of g.
func (g *Generator) FromHeader(id string) string {
	if Sane(id) {
		return id
	}
	return g.Next()
}
