package motoserver

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// CognitoPool is the user pool, app client, group and system user that
// .ci/cognito.sh provisions in a moto server, read from its
// FIELDSEAL_TEST_COGNITO_* exports.
type CognitoPool struct {
	Endpoint, Region, PoolID, ClientID, Issuer, JWKSURL, Username, Password, Group string
}

// RequireCognitoPool returns the pool from the environment. It skips the
// test when the pool is not configured, except in CI (CI=true), where it
// fails: .ci/run must provide it.
func RequireCognitoPool(t testing.TB) CognitoPool {
	t.Helper()
	p := CognitoPool{
		Endpoint: os.Getenv("FIELDSEAL_TEST_COGNITO_ENDPOINT"),
		Region:   os.Getenv("FIELDSEAL_TEST_COGNITO_REGION"),
		PoolID:   os.Getenv("FIELDSEAL_TEST_COGNITO_POOL_ID"),
		ClientID: os.Getenv("FIELDSEAL_TEST_COGNITO_CLIENT_ID"),
		Issuer:   os.Getenv("FIELDSEAL_TEST_COGNITO_ISSUER"),
		JWKSURL:  os.Getenv("FIELDSEAL_TEST_COGNITO_JWKS_URL"),
		Username: os.Getenv("FIELDSEAL_TEST_COGNITO_USERNAME"),
		Password: os.Getenv("FIELDSEAL_TEST_COGNITO_PASSWORD"),
		Group:    os.Getenv("FIELDSEAL_TEST_COGNITO_GROUP"),
	}
	if p.Endpoint == "" || p.PoolID == "" || p.ClientID == "" || p.Issuer == "" ||
		p.JWKSURL == "" || p.Username == "" || p.Password == "" || p.Group == "" {
		testproc.Missing(t, `Cognito emulator not configured (FIELDSEAL_TEST_COGNITO_* unset): run `+
			`eval "$(bash .ci/aws-emulators.sh)"; eval "$(bash .ci/cognito.sh)" first`)
	}
	if p.Region == "" {
		p.Region = "us-east-1"
	}
	return p
}

// Client is a Cognito client for the pool's emulator. moto accepts any
// credentials; static dummies keep the SDK away from real ones.
func (p CognitoPool) Client() *cip.Client {
	return cip.New(cip.Options{
		Region:       p.Region,
		BaseEndpoint: aws.String(p.Endpoint),
		Credentials:  testCredentials,
	})
}

// SignIn signs the pool's system user in with the public USER_PASSWORD_AUTH
// flow, as a service would, and returns its access and ID tokens.
func (p CognitoPool) SignIn(t testing.TB) (access, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := p.Client().InitiateAuth(ctx, &cip.InitiateAuthInput{
		ClientId:       aws.String(p.ClientID),
		AuthFlow:       types.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": p.Username, "PASSWORD": p.Password},
	})
	if err != nil {
		t.Fatalf("InitiateAuth: %v", err)
	}
	res := out.AuthenticationResult
	if res == nil || aws.ToString(res.AccessToken) == "" || aws.ToString(res.IdToken) == "" {
		t.Fatalf("InitiateAuth returned no tokens (a challenge instead?)")
	}
	return aws.ToString(res.AccessToken), aws.ToString(res.IdToken)
}
