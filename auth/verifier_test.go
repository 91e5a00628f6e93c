package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

func TestVerify(t *testing.T) {
	iss := newTestIssuer(t, rsaTestKey(), ecTestKey())
	v := newVerifier(t, Options{
		Issuer:     iss.url,
		ClientIDs:  []string{"client-a"},
		TokenUse:   TokenUseAccess,
		Algorithms: []string{"RS256", "ES256"},
	})
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := iss.claims()
		edit(c)
		return c
	}
	now := time.Now()
	rogue := testKey{kid: "rsa-1", method: jwt.SigningMethodRS256, priv: rogueKey()}
	unknown := testKey{kid: "not-published", method: jwt.SigningMethodRS256, priv: rogueKey()}

	tests := []struct {
		name  string
		token func(t *testing.T) string
		want  Reason // "" = accepted
	}{
		{"an RS256 access token from the issuer is accepted", func(t *testing.T) string {
			return sign(t, rsaTestKey(), iss.claims())
		}, ""},
		{"an ES256 access token from the issuer is accepted", func(t *testing.T) string {
			return sign(t, ecTestKey(), iss.claims())
		}, ""},
		{"a token expired less than the leeway ago is accepted", func(t *testing.T) string {
			return sign(t, rsaTestKey(), with(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }))
		}, ""},
		{"an empty token is missing", func(*testing.T) string { return "" }, ReasonMissing},
		{"a string that is not a JWT is malformed", func(*testing.T) string { return "not-a-jwt" }, ReasonMalformed},
		{"a token without exp is malformed", func(t *testing.T) string {
			return sign(t, rsaTestKey(), with(func(c jwt.MapClaims) { delete(c, "exp") }))
		}, ReasonMalformed},
		{"an expired token is refused", func(t *testing.T) string {
			return sign(t, rsaTestKey(), with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }))
		}, ReasonExpired},
		{"a token not valid yet is refused", func(t *testing.T) string {
			return sign(t, rsaTestKey(), with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }))
		}, ReasonNotYetValid},
		{"a token from another issuer is refused", func(t *testing.T) string {
			return sign(t, rsaTestKey(), with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }))
		}, ReasonWrongIssuer},
		{"a token for another client id is refused", func(t *testing.T) string {
			return sign(t, rsaTestKey(), with(func(c jwt.MapClaims) { c["client_id"] = "client-b" }))
		}, ReasonWrongAudience},
		{"a token for another audience is refused", func(t *testing.T) string {
			return sign(t, rsaTestKey(), with(func(c jwt.MapClaims) { delete(c, "client_id"); c["aud"] = "client-b" }))
		}, ReasonWrongAudience},
		{"an ID token is refused where access tokens are required", func(t *testing.T) string {
			return sign(t, rsaTestKey(), with(func(c jwt.MapClaims) { c["token_use"] = "id" }))
		}, ReasonWrongTokenUse},
		{"a token whose kid is not in the JWKS is refused", func(t *testing.T) string {
			return sign(t, unknown, iss.claims())
		}, ReasonUnknownKID},
		{"a token signed by another key under a published kid is refused", func(t *testing.T) string {
			return sign(t, rogue, iss.claims())
		}, ReasonBadSignature},
		{"a tampered payload is refused", func(t *testing.T) string {
			parts := strings.Split(sign(t, rsaTestKey(), iss.claims()), ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			payload = []byte(strings.Replace(string(payload), `"username":"svc-billing"`, `"username":"admin"`, 1))
			parts[1] = base64.RawURLEncoding.EncodeToString(payload)
			return strings.Join(parts, ".")
		}, ReasonBadSignature},
		{"alg none is refused", func(t *testing.T) string {
			return signWith(t, jwt.SigningMethodNone, "rsa-1", jwt.UnsafeAllowNoneSignatureType, iss.claims())
		}, ReasonAlgNotAllowed},
		{"HS256 keyed with the issuer's public key is refused", func(t *testing.T) string {
			return signWith(t, jwt.SigningMethodHS256, "rsa-1", publicKeyPEM(t), iss.claims())
		}, ReasonAlgNotAllowed},
		{"an asymmetric algorithm that is not configured is refused", func(t *testing.T) string {
			return sign(t, testKey{kid: "rsa-1", method: jwt.SigningMethodRS384, priv: rsaKey()}, iss.claims())
		}, ReasonAlgNotAllowed},
		{"a token without kid is malformed", func(t *testing.T) string {
			return signWith(t, jwt.SigningMethodRS256, "", rsaKey(), iss.claims())
		}, ReasonMalformed},
		{"an ES256 token under the RSA key's kid is refused", func(t *testing.T) string {
			return sign(t, testKey{kid: "rsa-1", method: jwt.SigningMethodES256, priv: ecKey()}, iss.claims())
		}, ReasonAlgNotAllowed},
		{"an unknown algorithm name is refused", func(*testing.T) string {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"XX999","kid":"rsa-1"}`))
			p := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x"}`))
			return h + "." + p + ".c2ln"
		}, ReasonAlgNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(t.Context(), tt.token(t))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v (cause: %v)", err, errors.Unwrap(err))
				}
				if id.Subject == "" || id.ClientID != "client-a" {
					t.Fatalf("identity = %+v", id)
				}
				return
			}
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason = %q, want %q (err: %v, cause: %v)", got, tt.want, err, errors.Unwrap(err))
			}
			if id != nil {
				t.Fatalf("refused token returned identity %+v", id)
			}
			if !errors.Is(err, &Error{Reason: tt.want}) {
				t.Fatalf("errors.Is does not match reason %q", tt.want)
			}
			var ar interface{ AuditReason() string }
			if !errors.As(fmt.Errorf("authenticate caller: %w", err), &ar) || ar.AuditReason() != string(tt.want) {
				t.Fatalf("AuditReason not found through wrapping")
			}
		})
	}
}

func TestVerifyIdentity(t *testing.T) {
	iss := newTestIssuer(t, rsaTestKey())
	t.Run("an access token yields client id, username, scopes and groups", func(t *testing.T) {
		v := newVerifier(t, Options{Issuer: iss.url, ClientIDs: []string{"client-a"}})
		id, err := v.Verify(t.Context(), sign(t, rsaTestKey(), iss.claims()))
		if err != nil {
			t.Fatal(err)
		}
		want := Identity{Issuer: iss.url, Subject: "3f38f4b3-0000-4b8e-ac85-6320f4108b4b", ClientID: "client-a",
			Username: "svc-billing", TokenUse: "access",
			Scopes: []string{"customers/read", "customers/write"}, Groups: []string{"billing", "ops"}}
		if id.Issuer != want.Issuer || id.Subject != want.Subject || id.ClientID != want.ClientID ||
			id.Username != want.Username || id.TokenUse != want.TokenUse ||
			!slices.Equal(id.Scopes, want.Scopes) || !slices.Equal(id.Groups, want.Groups) || id.Expires.IsZero() {
			t.Fatalf("identity = %+v, want %+v", id, want)
		}
	})
	t.Run("an ID token's aud is taken as its client id", func(t *testing.T) {
		v := newVerifier(t, Options{Issuer: iss.url, ClientIDs: []string{"client-a"}, TokenUse: TokenUseID})
		c := iss.claims()
		delete(c, "client_id")
		delete(c, "username")
		c["aud"], c["token_use"], c["cognito:username"] = "client-a", "id", "svc-billing"
		id, err := v.Verify(t.Context(), sign(t, rsaTestKey(), c))
		if err != nil {
			t.Fatal(err)
		}
		if id.ClientID != "client-a" || id.Username != "svc-billing" {
			t.Fatalf("identity = %+v", id)
		}
	})
	t.Run("a configured audience accepts a token whatever its client id", func(t *testing.T) {
		v := newVerifier(t, Options{Issuer: iss.url, Audiences: []string{"https://api.example.com"}})
		c := iss.claims()
		c["aud"] = []string{"other", "https://api.example.com"}
		c["client_id"] = "some-client"
		id, err := v.Verify(t.Context(), sign(t, rsaTestKey(), c))
		if err != nil {
			t.Fatal(err)
		}
		if id.ClientID != "some-client" {
			t.Fatalf("client id = %q", id.ClientID)
		}
	})
}

func TestUnknownKIDRefetch(t *testing.T) {
	t.Run("a key published after start is found by one refetch", func(t *testing.T) {
		iss := newTestIssuer(t, rsaTestKey())
		v := newVerifier(t, Options{Issuer: iss.url, ClientIDs: []string{"client-a"}, Algorithms: []string{"RS256", "ES256"}, UnknownKIDInterval: time.Hour})
		if got := iss.fetches.Load(); got != 1 {
			t.Fatalf("fetches after start = %d, want 1", got)
		}
		iss.publish(rsaTestKey(), ecTestKey()) // rotation at the issuer
		if _, err := v.Verify(t.Context(), sign(t, ecTestKey(), iss.claims())); err != nil {
			t.Fatalf("token under the new key: %v (cause: %v)", err, errors.Unwrap(err))
		}
		if got := iss.fetches.Load(); got != 2 {
			t.Fatalf("fetches = %d, want 2", got)
		}
	})
	t.Run("a flood of unknown kids costs the issuer one fetch per interval", func(t *testing.T) {
		iss := newTestIssuer(t, rsaTestKey())
		reg := prometheus.NewRegistry()
		v := newVerifier(t, Options{Issuer: iss.url, ClientIDs: []string{"client-a"}, UnknownKIDInterval: time.Hour, Registerer: reg})
		const n = 200
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				k := testKey{kid: fmt.Sprintf("made-up-%d", i), method: jwt.SigningMethodRS256, priv: rogueKey()}
				tok := sign(t, k, iss.claims())
				_, err := v.Verify(context.Background(), tok)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if ReasonOf(err) != ReasonUnknownKID {
				t.Fatalf("reason = %q, want unknown_kid", ReasonOf(err))
			}
		}
		if got := iss.fetches.Load(); got != 2 { // start + the one permitted refetch
			t.Fatalf("JWKS fetches = %d, want 2", got)
		}
		if got := sidecartest.Value(t, reg, "fieldseal_auth_failures_total", map[string]string{"reason": "unknown_kid"}); got != n {
			t.Fatalf("unknown_kid failures metric = %v, want %d", got, n)
		}
		if got := sidecartest.Value(t, reg, "fieldseal_auth_jwks_fetches_total", map[string]string{"result": "ok"}); got != 2 {
			t.Fatalf("jwks fetch metric = %v, want 2", got)
		}
	})
}

func TestIssuerUnreachableAtStart(t *testing.T) {
	iss := newTestIssuer(t, rsaTestKey())
	iss.srv.Close()
	v := newVerifier(t, Options{Issuer: iss.url, ClientIDs: []string{"client-a"}, HTTPTimeout: 2 * time.Second})
	_, err := v.Verify(t.Context(), sign(t, rsaTestKey(), iss.claims()))
	if ReasonOf(err) != ReasonUnknownKID {
		t.Fatalf("reason = %q, want unknown_kid while the JWKS cannot be fetched", ReasonOf(err))
	}
}

func TestOptionsValidation(t *testing.T) {
	base := func() Options {
		return Options{Issuer: "https://issuer.example.com", ClientIDs: []string{"c"}}
	}
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"HS256 is a configuration error", func(o *Options) { o.Algorithms = []string{"RS256", "HS256"} }, `algorithm "HS256" is not allowed`},
		{"none is a configuration error", func(o *Options) { o.Algorithms = []string{"none"} }, `algorithm "none" is not allowed`},
		{"an issuer is required", func(o *Options) { o.Issuer = "" }, "issuer is required"},
		{"an audience or client id is required", func(o *Options) { o.ClientIDs = nil }, "audiences or client_ids"},
		{"token use is access or id", func(o *Options) { o.TokenUse = "refresh" }, `token_use "refresh"`},
		{"a JWKS URL must be http(s)", func(o *Options) { o.JWKSURL = "file:///etc/passwd" }, "not an http(s) URL"},
		{"leeway is bounded", func(o *Options) { o.Leeway = time.Hour }, "leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.edit(&o)
			_, err := New(t.Context(), o)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
	t.Run("the JWKS URL defaults to the issuer's well-known path", func(t *testing.T) {
		o, err := base().withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		if o.JWKSURL != "https://issuer.example.com/.well-known/jwks.json" || o.Leeway != DefaultLeeway || !slices.Equal(o.Algorithms, []string{"RS256"}) {
			t.Fatalf("defaults = %+v", o)
		}
	})
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string
		reason  Reason
	}{
		{"a bearer token is extracted", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", ""},
		{"the scheme is case-insensitive", []string{"bearer abc"}, "abc", ""},
		{"no header is missing", nil, "", ReasonMissing},
		{"basic auth is malformed", []string{"Basic dXNlcjpwYXNz"}, "", ReasonMalformed},
		{"an empty bearer is malformed", []string{"Bearer   "}, "", ReasonMalformed},
		{"two headers are malformed", []string{"Bearer a", "Bearer b"}, "", ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := BearerToken(r)
			if got != tt.want || ReasonOf(err) != tt.reason {
				t.Fatalf("BearerToken = %q, %v; want %q, %q", got, err, tt.want, tt.reason)
			}
		})
	}
}

func TestErrorTextHidesTokenDetails(t *testing.T) {
	iss := newTestIssuer(t, rsaTestKey())
	v := newVerifier(t, Options{Issuer: iss.url, ClientIDs: []string{"client-a"}, UnknownKIDInterval: time.Hour})
	k := testKey{kid: "<script>secret-kid", method: jwt.SigningMethodRS256, priv: rogueKey()}
	_, err := v.Verify(t.Context(), sign(t, k, iss.claims()))
	if err == nil || err.Error() != "verify bearer token: unknown_kid" {
		t.Fatalf("error text = %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	iss := newTestIssuer(f, rsaTestKey())
	v, err := New(context.Background(), Options{Issuer: iss.url, ClientIDs: []string{"client-a"}, UnknownKIDInterval: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		if err == nil || id != nil {
			t.Fatalf("random input verified: %+v", id)
		}
		if !slices.Contains(Reasons(), ReasonOf(err)) {
			t.Fatalf("reason %q not in the closed set", ReasonOf(err))
		}
	})
}

func BenchmarkVerifyRS256(b *testing.B) { benchVerifyRS256(b) }

// benchVerifyRS256 verifies one RS256 access token over and over with a
// verifier whose JWKS the test issuer serves.
func benchVerifyRS256(b *testing.B) {
	iss := newTestIssuer(b, rsaTestKey())
	v, err := New(context.Background(), Options{Issuer: iss.url, ClientIDs: []string{"client-a"}})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	s := signWith(b, jwt.SigningMethodRS256, "rsa-1", rsaKey(), iss.claims())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCloseStopsBackgroundRefresh(t *testing.T) {
	iss := newTestIssuer(t, rsaTestKey())
	tr := &http.Transport{DisableKeepAlives: true}
	before := runtime.NumGoroutine()
	v, err := New(context.Background(), Options{Issuer: iss.url, ClientIDs: []string{"client-a"}, Transport: tr, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if runtime.NumGoroutine() <= before {
		t.Fatal("no refresh goroutine started")
	}
	v.Close()
	testproc.Poll(t, 2*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("goroutines: %d before New, %d after Close", before, n)
		}
		return nil
	})
}
