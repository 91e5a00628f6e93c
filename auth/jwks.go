package auth

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"sync"

	"github.com/MicahParks/jwkset"
	"golang.org/x/time/rate"
)

// keyReader finds a verification key by kid; the jwkset HTTP client storage
// is one, refetching the JWKS (rate-limited) when the kid is unknown.
type keyReader interface {
	KeyRead(ctx context.Context, kid string) (jwkset.JWK, error)
}

// newKeySource builds the JWKS cache: one fetch now (a failure goes to
// onError and is not fatal), a refresh every opts.RefreshInterval until ctx is
// done, and a refetch for an unknown kid at most once per
// opts.UnknownKIDInterval. Every fetch that replaces the key set reports the
// kids whose key left or changed to departed, once the new set is in place.
//
// It is assembled from jwkset directly (as keyfunc.NewDefaultOverrideCtx
// does) because only this way the storage the refresh writes into is ours,
// which is where a replacement becomes visible.
func newKeySource(ctx context.Context, opts Options, client *http.Client, onError func(error), departed func(kids []string)) (keyReader, error) {
	fetched, err := jwkset.NewStorageFromHTTP(opts.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:                    client,
		Ctx:                       ctx,
		HTTPTimeout:               opts.HTTPTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       func(_ context.Context, err error) { onError(err) },
		RefreshInterval:           opts.RefreshInterval,
		Storage:                   &keyStore{MemoryJWKSet: jwkset.NewMemoryStorage(), departed: departed},
	})
	if err != nil {
		return nil, fmt.Errorf("create JWKS cache for %q: %w", opts.JWKSURL, err)
	}
	keys, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{opts.JWKSURL: fetched},
		// Burst 1: the first unknown kid refetches at once, later ones at most
		// once per interval. RateLimitWaitMax bounds both the limiter wait and
		// the refetch; rate.Limiter.Wait refuses at once when the next token
		// is further away than that, which with an interval longer than
		// RateLimitWaitMax is nearly always, so a kid flood queues nothing.
		RefreshUnknownKID: rate.NewLimiter(rate.Every(opts.UnknownKIDInterval), 1),
		RateLimitWaitMax:  min(opts.HTTPTimeout, opts.UnknownKIDInterval/2),
	})
	if err != nil {
		return nil, fmt.Errorf("create JWKS cache for %q: %w", opts.JWKSURL, err)
	}
	return keys, nil
}

// keyStore is the in-memory key set the JWKS refresh replaces wholesale. It
// tells departed which kids a replacement removed or re-keyed, so tokens
// those keys verified stop being trusted from the cache.
type keyStore struct {
	*jwkset.MemoryJWKSet
	mu       sync.Mutex // serialises replacements (periodic and unknown-kid) so each compares with the set it replaces
	departed func(kids []string)
}

// KeyReplaceAll installs given and reports the kids that left or changed.
func (s *keyStore) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.MemoryJWKSet.KeyReadAll(ctx)
	if err != nil {
		return err
	}
	if err := s.MemoryJWKSet.KeyReplaceAll(ctx, given); err != nil {
		return err
	}
	if gone := departedKIDs(old, given); len(gone) > 0 {
		s.departed(gone)
	}
	return nil
}

// departedKIDs lists the kids of old that are absent from current or whose
// key, alg or use differs there.
func departedKIDs(old, current []jwkset.JWK) []string {
	byKID := make(map[string]jwkset.JWK, len(current))
	for _, k := range current {
		byKID[k.Marshal().KID] = k
	}
	var gone []string
	for _, o := range old {
		om := o.Marshal()
		n, ok := byKID[om.KID]
		if !ok {
			gone = append(gone, om.KID)
			continue
		}
		nm := n.Marshal()
		if nm.ALG != om.ALG || nm.USE != om.USE || !sameKey(o.Key(), n.Key()) {
			gone = append(gone, om.KID)
		}
	}
	return gone
}

// sameKey reports whether a and b are the same public key; keys that cannot
// be compared count as different.
func sameKey(a, b any) bool {
	pa, ok := publicKey(a).(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(publicKey(b))
}

// publicKey returns the public half of key when key is a private key.
func publicKey(key any) any {
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		return pk.Public()
	}
	return key
}
