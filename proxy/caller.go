package proxy

import "github.com/fieldseal/fieldseal/policy"

// Caller is an authenticated client: the transform's Caller (an action and
// a write permission per class) with an identity (policy.Identified).
type Caller = policy.Identified

// Authenticator identifies the caller of a request to a protected route
// (policy.Authenticator); Authenticate runs only for protected routes.
type Authenticator = policy.Authenticator

// anonymous is the caller used when no Authenticator is configured: every
// class is written and decrypted (the quick-start behaviour).
type anonymous = policy.Unrestricted
