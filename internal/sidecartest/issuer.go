package sidecartest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Issuer is a real OIDC-style token issuer for tests: an HTTP JWKS endpoint
// publishing the public half of an RSA key generated for the test, and
// Cognito-shaped access tokens signed with it. It stands in for what the
// Cognito emulator cannot produce (several app clients, scopes, groups at
// will); tests of Cognito itself use internal/motoserver's pool.
type Issuer struct {
	URL string // issuer ("iss"); the JWKS is at URL + "/.well-known/jwks.json"
	key *rsa.PrivateKey
}

const issuerKID = "sidecartest-rsa-1"

// NewIssuer starts an issuer for the length of the test.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := jwkset.NewMemoryStorage()
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: issuerKID, ALG: jwkset.AlgRS256, USE: jwkset.UseSig,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.KeyWrite(ctx, jwk); err != nil {
		t.Fatal(err)
	}
	jwks, err := store.JSONPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return &Issuer{URL: srv.URL, key: key}
}

// AuthYAML is an `auth:` section that trusts this issuer's access tokens
// for the given app client ids.
func (iss *Issuer) AuthYAML(clientIDs ...string) string {
	return AuthYAML(iss.URL, iss.URL+"/.well-known/jwks.json", clientIDs...)
}

// AuthYAML is an `auth:` section that trusts the access tokens ("token_use:
// access") of issuer, whose JWKS is at jwksURL, for the given app client
// ids: an Issuer's, or a Cognito user pool's from internal/motoserver.
func AuthYAML(issuer, jwksURL string, clientIDs ...string) string {
	return fmt.Sprintf("auth:\n  issuer: %s\n  jwks_url: %s\n  client_ids: [%s]\n  token_use: access\n",
		issuer, jwksURL, strings.Join(clientIDs, ", "))
}

// Token is a valid access token for app client clientID (an hour long),
// with the space-separated scope and Cognito groups given; its subject is
// "sub-" + clientID.
func (iss *Issuer) Token(t testing.TB, clientID, scope string, groups ...string) string {
	t.Helper()
	return iss.Sign(t, iss.Claims(clientID, "sub-"+clientID, scope, groups...))
}

// Claims are the claims of a valid Cognito-shaped access token from this
// issuer for app client clientID: subject, username "user-" + subject,
// issued now and expiring in an hour, with the space-separated scope and
// Cognito groups given. Tests change them to build tokens that must fail.
func (iss *Issuer) Claims(clientID, subject, scope string, groups ...string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": iss.URL, "sub": subject, "client_id": clientID, "token_use": "access",
		"username": "user-" + subject, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if scope != "" {
		c["scope"] = scope
	}
	if len(groups) > 0 {
		c["cognito:groups"] = groups
	}
	return c
}

// Sign is c signed with RS256 by the issuer's key, naming its published
// key id (KID) in the header.
func (iss *Issuer) Sign(t testing.TB, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = issuerKID
	s, err := tok.SignedString(iss.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// KID is the key id the issuer's JWKS publishes its key under.
func (iss *Issuer) KID() string { return issuerKID }

// PublicKey is the public half of the issuer's signing key, as its JWKS
// publishes it (for tests of algorithm-confusion attacks).
func (iss *Issuer) PublicKey() *rsa.PublicKey { return &iss.key.PublicKey }
