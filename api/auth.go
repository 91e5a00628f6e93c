package api

import (
	"net/http"

	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/policy"
	"github.com/fieldseal/fieldseal/transform"
)

// Caller is an authenticated client of the API: what it may do per class
// (transform.Caller) and a bounded, loggable identity. *policy.Caller
// implements it. Implementations are read concurrently and must not change
// once Authenticate returned them.
type Caller interface {
	transform.Caller
	// ID is the caller id from the configuration ("anonymous" for calls
	// without a token), a metric label and the audit caller; never a token
	// or a personal attribute.
	ID() string
}

// Authenticator identifies the caller of an API call. An error that wraps
// transform.ErrForbidden answers 403, any other error 401; an error that
// has an AuditReason() string method (an *auth.Error) gives the audit event
// its reason.
type Authenticator interface {
	Authenticate(r *http.Request) (Caller, error)
}

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

type anonymous struct{ transform.FullAccess }

func (anonymous) ID() string { return policy.IDAnonymous }
