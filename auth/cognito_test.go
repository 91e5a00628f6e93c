package auth

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// cognitoEnv is the pool .ci/cognito.sh provisions in a moto server.
type cognitoEnv struct {
	endpoint, region, poolID, clientID, issuer, jwksURL, username, password, group string
}

// requireCognito returns the pool from the environment, skipping outside CI
// when it is absent and failing in CI, where .ci/run must provide it.
func requireCognito(t *testing.T) cognitoEnv {
	t.Helper()
	e := cognitoEnv{
		endpoint: os.Getenv("FIELDSEAL_TEST_COGNITO_ENDPOINT"),
		region:   os.Getenv("FIELDSEAL_TEST_COGNITO_REGION"),
		poolID:   os.Getenv("FIELDSEAL_TEST_COGNITO_POOL_ID"),
		clientID: os.Getenv("FIELDSEAL_TEST_COGNITO_CLIENT_ID"),
		issuer:   os.Getenv("FIELDSEAL_TEST_COGNITO_ISSUER"),
		jwksURL:  os.Getenv("FIELDSEAL_TEST_COGNITO_JWKS_URL"),
		username: os.Getenv("FIELDSEAL_TEST_COGNITO_USERNAME"),
		password: os.Getenv("FIELDSEAL_TEST_COGNITO_PASSWORD"),
		group:    os.Getenv("FIELDSEAL_TEST_COGNITO_GROUP"),
	}
	if e.endpoint == "" || e.poolID == "" || e.clientID == "" || e.issuer == "" || e.jwksURL == "" || e.username == "" || e.password == "" {
		msg := "Cognito emulator not configured: run a moto server and eval \"$(.ci/cognito.sh)\" (FIELDSEAL_TEST_COGNITO_* unset)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if e.region == "" {
		e.region = "us-east-1"
	}
	return e
}

func (e cognitoEnv) client() *cip.Client {
	return cip.New(cip.Options{
		Region:       e.region,
		BaseEndpoint: aws.String(e.endpoint),
		// moto accepts any credentials; static dummies keep the SDK away from
		// real ones on the machine.
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
}

// tokens signs in the system account with the Cognito API, once with the
// public USER_PASSWORD_AUTH flow and once with the admin flow.
func (e cognitoEnv) tokens(t *testing.T, admin bool) *types.AuthenticationResultType {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	params := map[string]string{"USERNAME": e.username, "PASSWORD": e.password}
	var res *types.AuthenticationResultType
	if admin {
		out, err := e.client().AdminInitiateAuth(ctx, &cip.AdminInitiateAuthInput{
			UserPoolId: aws.String(e.poolID), ClientId: aws.String(e.clientID),
			AuthFlow: types.AuthFlowTypeAdminUserPasswordAuth, AuthParameters: params,
		})
		if err != nil {
			t.Fatalf("AdminInitiateAuth: %v", err)
		}
		res = out.AuthenticationResult
	} else {
		out, err := e.client().InitiateAuth(ctx, &cip.InitiateAuthInput{
			ClientId: aws.String(e.clientID), AuthFlow: types.AuthFlowTypeUserPasswordAuth, AuthParameters: params,
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
		o := Options{Issuer: e.issuer, JWKSURL: e.jwksURL, ClientIDs: []string{e.clientID}}
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
			if id.ClientID != e.clientID || id.Username != e.username || id.Issuer != e.issuer || id.Subject == "" {
				t.Fatalf("identity = %+v", id)
			}
			if e.group != "" && !slices.Contains(id.Groups, e.group) {
				t.Fatalf("groups = %v, want %q among them", id.Groups, e.group)
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
		if id.ClientID != e.clientID || id.TokenUse != TokenUseID {
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
		v := verifier(t, func(o *Options) { o.Issuer = e.issuer + "-other" })
		_, err := v.Verify(t.Context(), aws.ToString(res.AccessToken))
		if ReasonOf(err) != ReasonWrongIssuer {
			t.Fatalf("reason = %q, want wrong_issuer", ReasonOf(err))
		}
	})
}
