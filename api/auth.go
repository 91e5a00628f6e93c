package api

import (
	"net/http"

	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/policy"
)

// Caller is an authenticated client of the API: what it may do per class
// and a bounded, loggable identity (policy.Identified, as the proxy's).
type Caller = policy.Identified

// Authenticator identifies the caller of an API call (policy.Authenticator,
// as the proxy's).
type Authenticator = policy.Authenticator

// PolicyAuthenticator is the Authenticator for configured callers, as the
// proxy's: the bearer token is verified by Verifier (an *auth.Verifier) and
// resolved to a caller by Policy. A call without a token is the policy's
// anonymous caller only when AllowAnonymous is set (the api section's
// allow_anonymous); the policy's own allow_anonymous, which governs the
// proxy, does not open the API. A bad token never falls back to anonymous.
type PolicyAuthenticator struct {
	Policy         *policy.Policy
	Verifier       policy.Verifier
	AllowAnonymous bool
}

// Authenticate implements Authenticator.
func (a PolicyAuthenticator) Authenticate(r *http.Request) (Caller, error) {
	if _, err := auth.BearerToken(r); auth.ReasonOf(err) == auth.ReasonMissing {
		if a.AllowAnonymous {
			return a.Policy.Resolve(nil), nil
		}
		if rf, ok := a.Verifier.(interface{ RecordFailure(error) }); ok {
			rf.RecordFailure(err)
		}
		return nil, err
	}
	c, _, err := a.Policy.Authenticate(r, a.Verifier)
	if err != nil || c == nil {
		return nil, err // a nil caller is refused as unauthenticated
	}
	return c, nil
}

// Anonymous is the Authenticator of an API without authentication (no
// auth section, allow_anonymous set): every call is the "anonymous" caller
// that writes and decrypts every class, as the proxy's callers are without
// authentication. Tokens are not looked at.
type Anonymous struct{}

// Authenticate implements Authenticator.
func (Anonymous) Authenticate(*http.Request) (Caller, error) { return anonymous{}, nil }

type anonymous = policy.Unrestricted
