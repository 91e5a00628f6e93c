// Package appse2e_test runs issue 16's application behaviours end to end:
// the fieldseal binary built from this repository (started by
// internal/sidecartest) in front of upstreams that behave like the
// applications that broke, asserting on what the upstream received and on
// what the client got back.
package appse2e_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// fieldsealBin is the binary TestMain builds once for every test of the run.
var fieldsealBin string

func TestMain(m *testing.M) {
	os.Exit(testproc.RunWithBuild(m, "../../cmd/fieldseal", &fieldsealBin))
}

// issuer is an OIDC issuer with one generated RS256 key, publishing its
// JWKS at /.well-known/jwks.json.
type issuer struct {
	url string
	key *rsa.PrivateKey
}

const issuerKID = "apps-rsa-1"

func newIssuer(t *testing.T) *issuer {
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
	return &issuer{url: srv.URL, key: key}
}

// token signs an access token for clientID with the extra claims.
func (iss *issuer) token(t *testing.T, clientID string, extra map[string]any) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{
		"iss": iss.url, "sub": "subject-" + clientID, "client_id": clientID, "token_use": "access",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = issuerKID
	s, err := tok.SignedString(iss.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
