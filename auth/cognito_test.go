package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/fieldseal/fieldseal/internal/motoserver"
)

// cognitoEnv is the pool .ci/cognito.sh provisions in a moto server.
type cognitoEnv struct{ motoserver.CognitoPool }

// requireCognito returns the pool, skipping outside CI when it is absent and
// failing in CI, where .ci/run must provide it.
func requireCognito(t *testing.T) cognitoEnv { return cognitoEnv{motoserver.RequireCognitoPool(t)} }

// tokens signs in the system account with the Cognito API, once with the
// public USER_PASSWORD_AUTH flow and once with the admin flow.
func (e cognitoEnv) tokens(t *testing.T, admin bool) *types.AuthenticationResultType {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	params := map[string]string{"USERNAME": e.Username, "PASSWORD": e.Password}
	var res *types.AuthenticationResultType
	if admin {
		out, err := e.Client().AdminInitiateAuth(ctx, &cip.AdminInitiateAuthInput{
			UserPoolId: aws.String(e.PoolID), ClientId: aws.String(e.ClientID),
			AuthFlow: types.AuthFlowTypeAdminUserPasswordAuth, AuthParameters: params,
		})
		if err != nil {
			t.Fatalf("AdminInitiateAuth: %v", err)
		}
		res = out.AuthenticationResult
	} else {
		out, err := e.Client().InitiateAuth(ctx, &cip.InitiateAuthInput{
			ClientId: aws.String(e.ClientID), AuthFlow: types.AuthFlowTypeUserPasswordAuth, AuthParameters: params,
		})
		if err != nil {
			t.Fatalf("InitiateAuth: %v", err)
		}
		res = out.AuthenticationResult
	}
	if res == nil || aws.ToString(res.AccessToken) == "" || aws.ToString(res.IdToken) == "" {
		t.Fatalf("no tokens in the authentication result (challenge instead?)")
	}
	return res
}

func TestCognitoTokens(t *testing.T) {
	e := requireCognito(t)
	verifier := func(t *testing.T, edit func(*Options)) *Verifier {
		o := Options{Issuer: e.Issuer, JWKSURL: e.JWKSURL, ClientIDs: []string{e.ClientID}}
		edit(&o)
		return newVerifier(t, o)
	}
	for _, admin := range []bool{false, true} {
		flow := "InitiateAuth"
		if admin {
			flow = "AdminInitiateAuth"
		}
		t.Run("an access token from "+flow+" is verified against the pool's JWKS", func(t *testing.T) {
			res := e.tokens(t, admin)
			v := verifier(t, func(o *Options) { o.TokenUse = TokenUseAccess })
			id, err := v.Verify(t.Context(), aws.ToString(res.AccessToken))
			if err != nil {
				t.Fatalf("Verify: %v (cause: %v)", err, errors.Unwrap(err))
			}
			if id.ClientID != e.ClientID || id.Username != e.Username || id.Issuer != e.Issuer || id.Subject == "" {
				t.Fatalf("identity = %+v", id)
			}
			if e.Group != "" && !slices.Contains(id.Groups, e.Group) {
				t.Fatalf("groups = %v, want %q among them", id.Groups, e.Group)
			}
		})
	}
	t.Run("an ID token is verified with its aud as the client id", func(t *testing.T) {
		res := e.tokens(t, false)
		v := verifier(t, func(o *Options) { o.TokenUse = TokenUseID })
		id, err := v.Verify(t.Context(), aws.ToString(res.IdToken))
		if err != nil {
			t.Fatalf("Verify: %v (cause: %v)", err, errors.Unwrap(err))
		}
		if id.ClientID != e.ClientID || id.TokenUse != TokenUseID {
			t.Fatalf("identity = %+v", id)
		}
	})
	t.Run("an access token is refused where ID tokens are required", func(t *testing.T) {
		res := e.tokens(t, false)
		v := verifier(t, func(o *Options) { o.TokenUse = TokenUseID })
		_, err := v.Verify(t.Context(), aws.ToString(res.AccessToken))
		if ReasonOf(err) != ReasonWrongTokenUse {
			t.Fatalf("reason = %q, want wrong_token_use", ReasonOf(err))
		}
	})
	t.Run("a token for another app client is refused", func(t *testing.T) {
		res := e.tokens(t, false)
		v := verifier(t, func(o *Options) { o.ClientIDs = []string{"another-client"} })
		_, err := v.Verify(t.Context(), aws.ToString(res.AccessToken))
		if ReasonOf(err) != ReasonWrongAudience {
			t.Fatalf("reason = %q, want wrong_audience", ReasonOf(err))
		}
	})
	t.Run("a token from the pool is refused under another issuer", func(t *testing.T) {
		res := e.tokens(t, false)
		v := verifier(t, func(o *Options) { o.Issuer = e.Issuer + "-other" })
		_, err := v.Verify(t.Context(), aws.ToString(res.AccessToken))
		if ReasonOf(err) != ReasonWrongIssuer {
			t.Fatalf("reason = %q, want wrong_issuer", ReasonOf(err))
		}
	})
}
