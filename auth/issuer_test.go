package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// testIssuer is a real HTTP JWKS endpoint backed by keys generated for the
// test, counting every fetch so tests can assert how often the verifier asks.
type testIssuer struct {
	t       testing.TB
	srv     *httptest.Server
	url     string // issuer = JWKS base URL
	fetches atomic.Int64

	mu   sync.Mutex
	jwks []byte
}

// testKey is a signing key and the kid/alg it is published under.
type testKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

var (
	rsaKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	ecKey  = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	rogueKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func rsaTestKey() testKey {
	return testKey{kid: "rsa-1", method: jwt.SigningMethodRS256, priv: rsaKey()}
}
func ecTestKey() testKey { return testKey{kid: "ec-1", method: jwt.SigningMethodES256, priv: ecKey()} }

func newTestIssuer(t testing.TB, keys ...testKey) *testIssuer {
	t.Helper()
	iss := &testIssuer{t: t}
	iss.publish(keys...)
	iss.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		iss.fetches.Add(1)
		iss.mu.Lock()
		body := iss.jwks
		iss.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(iss.srv.Close)
	iss.url = iss.srv.URL
	return iss
}

// publish replaces the served JWKS with the public halves of keys.
func (iss *testIssuer) publish(keys ...testKey) {
	iss.t.Helper()
	ctx := context.Background()
	store := jwkset.NewMemoryStorage()
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.priv.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			KID: k.kid, ALG: jwkset.ALG(k.method.Alg()), USE: jwkset.UseSig,
		}})
		if err != nil {
			iss.t.Fatalf("make JWK %s: %v", k.kid, err)
		}
		if err := store.KeyWrite(ctx, jwk); err != nil {
			iss.t.Fatal(err)
		}
	}
	raw, err := store.JSONPublic(ctx)
	if err != nil {
		iss.t.Fatal(err)
	}
	iss.mu.Lock()
	iss.jwks = raw
	iss.mu.Unlock()
}

// claims returns a valid Cognito-shaped access token's claims for this issuer.
func (iss *testIssuer) claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":            iss.url,
		"sub":            "3f38f4b3-0000-4b8e-ac85-6320f4108b4b",
		"client_id":      "client-a",
		"token_use":      "access",
		"scope":          "customers/read customers/write",
		"username":       "svc-billing",
		"cognito:groups": []string{"billing", "ops"},
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
	}
}

func sign(t *testing.T, k testKey, c jwt.MapClaims) string {
	t.Helper()
	return signWith(t, k.method, k.kid, k.priv, c)
}

// signWith signs c with method and key, under kid unless it is empty (no
// kid header then): any token a caller could forge, whatever a verifier
// accepts.
func signWith(t testing.TB, method jwt.SigningMethod, kid string, key any, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// publicKeyPEM is the RSA public key as an attacker would find it published.
func publicKeyPEM(t *testing.T) []byte {
	der, err := x509.MarshalPKIXPublicKey(&rsaKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func newVerifier(t *testing.T, opts Options) *Verifier {
	t.Helper()
	v, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}
