package policy

import (
	"net/http"

	"github.com/fieldseal/fieldseal/transform"
)

// Identified is a caller as the listeners (proxy and API) serve it: what it
// may do per class (transform.Caller) and a bounded, loggable identity.
// *Caller implements it. Implementations are read concurrently and must not
// change once an Authenticator returned them.
type Identified interface {
	transform.Caller
	// ID is the caller id from the configuration (IDAnonymous for requests
	// without a token), a metric label and the audit caller; never a token
	// or a personal attribute.
	ID() string
}

// Authenticator identifies the caller of a request. An error that wraps
// transform.ErrForbidden answers 403, any other error 401; an error that
// has an AuditReason() string method (an *auth.Error) gives the audit event
// its reason.
type Authenticator interface {
	Authenticate(r *http.Request) (Identified, error)
}

// Unrestricted is the caller of a listener without authentication: it
// writes and decrypts every class (the quick-start behaviour) as
// IDAnonymous.
type Unrestricted struct{ transform.FullAccess }

// ID implements Identified.
func (Unrestricted) ID() string { return IDAnonymous }
