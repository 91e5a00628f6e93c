package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// testClock is the verifier's injected clock.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.set(t)
	return c
}
func (c *testClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *testClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// countingKeys counts key look-ups: each full verification makes exactly one,
// a verification answered from the cache none.
type countingKeys struct {
	keyReader
	reads atomic.Int64
}

func (c *countingKeys) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	c.reads.Add(1)
	return c.keyReader.KeyRead(ctx, kid)
}

func countKeyReads(v *Verifier) *countingKeys {
	ck := &countingKeys{keyReader: v.keys}
	v.keys = ck
	return ck
}

// cacheFixture is an issuer, a verifier on an injected clock and a counter of
// full verifications.
type cacheFixture struct {
	iss   *testIssuer
	v     *Verifier
	clock *testClock
	keys  *countingKeys
	base  time.Time
}

func newCacheFixture(t *testing.T, cacheSize int, keys ...testKey) *cacheFixture {
	t.Helper()
	base := time.Now().Truncate(time.Second)
	iss := newTestIssuer(t, keys...)
	clock := newTestClock(base)
	v := newVerifier(t, Options{
		Issuer: iss.url, ClientIDs: []string{"client-a"}, Algorithms: []string{"RS256", "ES256"},
		Now: clock.Now, CacheSize: cacheSize, UnknownKIDInterval: time.Hour,
	})
	return &cacheFixture{iss: iss, v: v, clock: clock, keys: countKeyReads(v), base: base}
}

// token signs a token for subject sub valid from base for life.
func (f *cacheFixture) token(t *testing.T, k testKey, sub string, life time.Duration) string {
	t.Helper()
	c := f.iss.claims()
	c["sub"], c["iat"], c["exp"] = sub, f.base.Unix(), f.base.Add(life).Unix()
	return sign(t, k, c)
}

func (f *cacheFixture) mustVerify(t *testing.T, token, wantSub string) *Identity {
	t.Helper()
	id, err := f.v.Verify(t.Context(), token)
	if err != nil {
		t.Fatalf("Verify: %v (cause: %v)", err, errors.Unwrap(err))
	}
	if id.Subject != wantSub {
		t.Fatalf("subject = %q, want %q", id.Subject, wantSub)
	}
	return id
}

func (f *cacheFixture) wantReason(t *testing.T, token string, want Reason) {
	t.Helper()
	id, err := f.v.Verify(t.Context(), token)
	if ReasonOf(err) != want || id != nil {
		t.Fatalf("Verify = %+v, %v; want reason %q", id, err, want)
	}
}

func (f *cacheFixture) wantReads(t *testing.T, want int64) {
	t.Helper()
	if got := f.keys.reads.Load(); got != want {
		t.Fatalf("full verifications (key look-ups) = %d, want %d", got, want)
	}
}

// refetch makes the verifier fetch the JWKS now: the first unknown kid
// refetches at once, and the made-up kid is then refused.
func (f *cacheFixture) refetch(t *testing.T) {
	t.Helper()
	before := f.iss.fetches.Load()
	k := testKey{kid: "made-up", method: jwt.SigningMethodRS256, priv: rogueKey()}
	f.wantReason(t, f.token(t, k, "someone", time.Hour), ReasonUnknownKID)
	if f.iss.fetches.Load() != before+1 {
		t.Fatalf("JWKS fetches = %d, want %d", f.iss.fetches.Load(), before+1)
	}
}

func TestVerifiedCache(t *testing.T) {
	t.Run("a repeated token is accepted without a second signature check", func(t *testing.T) {
		f := newCacheFixture(t, 0, rsaTestKey())
		tok := f.token(t, rsaTestKey(), "alice", time.Hour)
		first := f.mustVerify(t, tok, "alice")
		f.wantReads(t, 1)
		first.Subject, first.ClientID = "mallory", "client-b" // callers get copies
		again := f.mustVerify(t, tok, "alice")
		f.wantReads(t, 1)
		if again.ClientID != "client-a" || again.Username != "svc-billing" || len(again.Scopes) != 2 ||
			!again.Expires.Equal(f.base.Add(time.Hour)) {
			t.Fatalf("cached identity = %+v", again)
		}
		if got := f.v.cache.len(); got != 1 {
			t.Fatalf("cache entries = %d, want 1", got)
		}
	})

	t.Run("a cached token is refused once its exp and the leeway have passed", func(t *testing.T) {
		f := newCacheFixture(t, 0, rsaTestKey())
		tok := f.token(t, rsaTestKey(), "alice", 10*time.Minute)
		f.mustVerify(t, tok, "alice")
		exp := f.base.Add(10 * time.Minute)
		f.clock.set(exp.Add(DefaultLeeway - time.Second))
		f.mustVerify(t, tok, "alice")
		f.wantReads(t, 1)
		f.clock.set(exp.Add(DefaultLeeway))
		f.wantReason(t, tok, ReasonExpired)
		if got := f.v.cache.len(); got != 0 {
			t.Fatalf("cache entries after expiry = %d, want 0", got)
		}
		f.wantReason(t, tok, ReasonExpired) // and full verification agrees
		f.wantReads(t, 2)
	})

	t.Run("nbf is re-checked on every use", func(t *testing.T) {
		f := newCacheFixture(t, 0, rsaTestKey())
		c := f.iss.claims()
		c["sub"], c["nbf"], c["exp"] = "alice", f.base.Add(20*time.Second).Unix(), f.base.Add(time.Hour).Unix()
		tok := sign(t, rsaTestKey(), c)
		f.mustVerify(t, tok, "alice") // within the leeway of nbf
		f.clock.set(f.base.Add(-20 * time.Second))
		f.wantReason(t, tok, ReasonNotYetValid)
		f.wantReads(t, 1)
	})

	t.Run("a kid removed from the JWKS drops the tokens it verified", func(t *testing.T) {
		f := newCacheFixture(t, 0, rsaTestKey(), ecTestKey())
		rsaTok := f.token(t, rsaTestKey(), "alice", time.Hour)
		ecTok := f.token(t, ecTestKey(), "bob", time.Hour)
		f.mustVerify(t, rsaTok, "alice")
		f.mustVerify(t, ecTok, "bob")
		f.iss.publish(ecTestKey()) // the issuer retires rsa-1
		f.refetch(t)
		if got := f.v.cache.len(); got != 1 {
			t.Fatalf("cache entries = %d, want 1 (the ec-1 token)", got)
		}
		reads := f.keys.reads.Load()
		f.mustVerify(t, ecTok, "bob")
		f.wantReads(t, reads)
		f.wantReason(t, rsaTok, ReasonUnknownKID)
	})

	t.Run("a kid whose key changes drops the tokens the old key verified", func(t *testing.T) {
		f := newCacheFixture(t, 0, rsaTestKey())
		tok := f.token(t, rsaTestKey(), "alice", time.Hour)
		f.mustVerify(t, tok, "alice")
		f.iss.publish(testKey{kid: "rsa-1", method: jwt.SigningMethodRS256, priv: rogueKey()})
		f.refetch(t)
		f.wantReason(t, tok, ReasonBadSignature)
	})

	t.Run("a refresh that keeps the keys keeps the cache", func(t *testing.T) {
		f := newCacheFixture(t, 0, rsaTestKey())
		tok := f.token(t, rsaTestKey(), "alice", time.Hour)
		f.mustVerify(t, tok, "alice")
		f.refetch(t)
		reads := f.keys.reads.Load()
		f.mustVerify(t, tok, "alice")
		f.wantReads(t, reads)
	})

	t.Run("the cache holds at most CacheSize tokens, dropping the least recently used", func(t *testing.T) {
		f := newCacheFixture(t, 2, rsaTestKey())
		toks := make([]string, 3)
		for i := range toks {
			toks[i] = f.token(t, rsaTestKey(), fmt.Sprint("user-", i), time.Hour)
			f.mustVerify(t, toks[i], fmt.Sprint("user-", i))
		}
		if got := f.v.cache.len(); got != 2 {
			t.Fatalf("cache entries = %d, want 2", got)
		}
		f.wantReads(t, 3)
		f.mustVerify(t, toks[2], "user-2")
		f.wantReads(t, 3)
		f.mustVerify(t, toks[0], "user-0") // evicted: verified in full again
		f.wantReads(t, 4)
	})

	t.Run("a token that differs from a cached one is verified on its own", func(t *testing.T) {
		f := newCacheFixture(t, 0, rsaTestKey())
		tok := f.token(t, rsaTestKey(), "alice", time.Hour)
		f.mustVerify(t, tok, "alice")
		parts := strings.Split(tok, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(
			[]byte(strings.Replace(string(payload), `"sub":"alice"`, `"sub":"admin"`, 1))) + "." + parts[2]
		f.wantReason(t, forged, ReasonBadSignature)
		// Another base64url character in the middle of the signature (a
		// flipped bit could leave the alphabet: malformed, not forged).
		sig := []byte(parts[2])
		if sig[len(sig)/2] == 'A' {
			sig[len(sig)/2] = 'B'
		} else {
			sig[len(sig)/2] = 'A'
		}
		f.wantReason(t, parts[0]+"."+parts[1]+"."+string(sig), ReasonBadSignature)
		f.wantReason(t, tok+" ", ReasonMalformed)
		other := f.token(t, rsaTestKey(), "bob", time.Hour)
		f.mustVerify(t, other, "bob")
		f.mustVerify(t, tok, "alice")
		f.wantReads(t, 4) // alice, the two forgeries, bob; the malformed one fails before any key is read
		if got := f.v.cache.len(); got != 2 {
			t.Fatalf("cache entries = %d, want 2 (refused tokens are not remembered)", got)
		}
	})

	t.Run("a negative CacheSize verifies every token in full", func(t *testing.T) {
		f := newCacheFixture(t, -1, rsaTestKey())
		tok := f.token(t, rsaTestKey(), "alice", time.Hour)
		f.mustVerify(t, tok, "alice")
		f.mustVerify(t, tok, "alice")
		f.wantReads(t, 2)
	})

	t.Run("a verification that raced a key change is not remembered", func(t *testing.T) {
		c := newVerifiedCache(0)
		gen := c.generation()
		c.dropKIDs([]string{"rsa-1"}) // a refresh lands while the signature is checked
		c.add("token", &verified{kid: "rsa-1", exp: time.Now().Add(time.Hour)}, gen)
		if c.len() != 0 {
			t.Fatal("an entry verified under a replaced key set was cached")
		}
		c.add("token", &verified{kid: "rsa-1", exp: time.Now().Add(time.Hour)}, c.generation())
		if c.len() != 1 {
			t.Fatal("an entry verified under the current key set was not cached")
		}
	})

	t.Run("concurrent verifications and key changes agree", func(t *testing.T) {
		f := newCacheFixture(t, 8, rsaTestKey(), ecTestKey())
		toks := []string{f.token(t, rsaTestKey(), "alice", time.Hour), f.token(t, ecTestKey(), "bob", time.Hour)}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for range 50 {
					if _, err := f.v.Verify(context.Background(), toks[i%2]); err != nil {
						t.Errorf("Verify: %v", err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range 20 {
				f.v.cache.dropKIDs([]string{"rsa-1", "ec-1"})
			}
		})
		wg.Wait()
	})
}

// BenchmarkVerifyRS256Cached is BenchmarkVerifyRS256 under the name the
// cache's benchmark runs compare: every token after the first is verified
// with the cached key.
func BenchmarkVerifyRS256Cached(b *testing.B) { benchVerifyRS256(b) }
