package auth

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultCacheSize is how many verified tokens a Verifier remembers when
// Options.CacheSize is zero. A Cognito access token is about 1 KB, so the
// cache holds a few MB at most.
const DefaultCacheSize = 4096

// verified is what a successful full verification of one token established:
// the identity, the kid whose key checked the signature and the token's time
// claims, which are re-checked on every use.
type verified struct {
	id  Identity
	kid string
	exp time.Time // required by the parser, so never zero
	nbf time.Time // zero when the token has no nbf
}

// verifiedCache remembers tokens that passed full verification, keyed by the
// exact token string, so a caller presenting the same token again skips the
// signature check (an RSA verification is most of a request's cost).
//
// Invariants: an entry exists only for a token whose signature verified with
// a key still in the JWKS under the entry's kid and with the same key
// material; dropKIDs removes every entry of a kid whose key left or changed.
// An entry is never used past the token's exp (plus the verifier's leeway):
// the caller re-checks exp and nbf with its own clock on every hit. Claims
// other than time (iss, aud, client_id, token_use) cannot change for a given
// token string and verifier, so they are not re-checked.
//
// The generation closes the race between a verification that read a key
// before a JWKS replacement and its insertion after the replacement dropped
// that key's entries: add refuses an entry whose verification started under
// an older generation. A nil *verifiedCache caches nothing.
type verifiedCache struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, *verified]
	gen atomic.Uint64 // incremented under mu by dropKIDs
}

// newVerifiedCache returns a cache of at most size entries, or nil (no
// caching) when size is negative.
func newVerifiedCache(size int) *verifiedCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	l, err := simplelru.NewLRU[string, *verified](size, nil)
	if err != nil { // only for a non-positive size, excluded above
		panic(err)
	}
	return &verifiedCache{lru: l}
}

// generation is read before a full verification starts and handed to add.
func (c *verifiedCache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// get returns the entry for token and marks it recently used.
func (c *verifiedCache) get(token string) (*verified, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.lru.Get(token)
	c.mu.Unlock()
	return e, ok
}

// add remembers token unless a JWKS change happened since gen was read; the
// least recently used entry makes room when the cache is full.
func (c *verifiedCache) add(token string, e *verified, gen uint64) {
	if c == nil {
		return
	}
	// Callers must not be able to append into the cached identity's slices.
	e.id.Scopes = slices.Clip(e.id.Scopes)
	e.id.Groups = slices.Clip(e.id.Groups)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	c.lru.Add(token, e)
}

// remove forgets token (used once its exp has passed).
func (c *verifiedCache) remove(token string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.lru.Remove(token)
	c.mu.Unlock()
}

// dropKIDs forgets every token verified with one of kids. It runs on a JWKS
// replacement (hourly or on an unknown kid), so a scan of the bounded cache
// is cheap enough and keeps the hit path free of per-kid bookkeeping.
func (c *verifiedCache) dropKIDs(kids []string) {
	if c == nil || len(kids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, token := range c.lru.Keys() {
		if e, ok := c.lru.Peek(token); ok && slices.Contains(kids, e.kid) {
			c.lru.Remove(token)
		}
	}
}

// len is the number of cached tokens.
func (c *verifiedCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
