package proxy

import (
	"net/http"

	"github.com/fieldseal/fieldseal/transform"
)

// Caller is an authenticated client: the transform's Caller (an action and
// a write permission per class) with an identity. Implementations are read
// concurrently and must not change after Authenticate returns them.
type Caller interface {
	transform.Caller
	// ID is a bounded, loggable identity (client id or policy name), never a
	// token or a personal attribute.
	ID() string
}

// Authenticator identifies the caller of a request to a protected route.
// A returned error that wraps transform.ErrForbidden answers 403; any other
// error answers 401. Authenticate runs only for protected routes.
type Authenticator interface {
	Authenticate(r *http.Request) (Caller, error)
}

// anonymous is the caller used when no Authenticator is configured: every
// class is written and decrypted (the quick-start behaviour).
type anonymous struct{ transform.FullAccess }

func (anonymous) ID() string { return "anonymous" }
