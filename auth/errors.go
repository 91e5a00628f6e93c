package auth

import "errors"

// Reason is the bounded category of a verification failure. Its values are
// used as metric labels and audit fields, so the set is closed.
type Reason string

// Reasons a token is refused.
const (
	ReasonMissing       Reason = "missing"         // no Authorization: Bearer header
	ReasonMalformed     Reason = "malformed"       // not a JWT, bad base64/JSON, a required claim absent
	ReasonBadSignature  Reason = "bad_signature"   // signature does not verify with the named key
	ReasonUnknownKID    Reason = "unknown_kid"     // kid not in the JWKS, even after a permitted refetch
	ReasonExpired       Reason = "expired"         // exp (plus leeway) is in the past
	ReasonNotYetValid   Reason = "not_yet_valid"   // nbf (minus leeway) is in the future
	ReasonWrongIssuer   Reason = "wrong_issuer"    // iss differs from the configured issuer
	ReasonWrongAudience Reason = "wrong_audience"  // neither aud nor client_id is one of ours
	ReasonWrongTokenUse Reason = "wrong_token_use" // token_use differs from the configured one
	ReasonAlgNotAllowed Reason = "alg_not_allowed" // alg is none, HMAC, or not configured
)

// Reasons lists every Reason, for pre-registering metric label values.
func Reasons() []Reason {
	return []Reason{ReasonMissing, ReasonMalformed, ReasonBadSignature, ReasonUnknownKID,
		ReasonExpired, ReasonNotYetValid, ReasonWrongIssuer, ReasonWrongAudience,
		ReasonWrongTokenUse, ReasonAlgNotAllowed}
}

// Error is returned for every refused token. Error() names only the reason;
// the cause (which may quote attacker-chosen header values such as a kid) is
// reachable through Unwrap for debugging, never printed by default.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string { return "verify bearer token: " + string(e.Reason) }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Reason: r}) match on the reason alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason && t.Err == nil
}

// AuditReason returns the reason as text. Packages that must not import auth
// (the proxy) find it with errors.As(err, &interface{ AuditReason() string }).
func (e *Error) AuditReason() string { return string(e.Reason) }

// ReasonOf returns the Reason of an *Error in err's chain, or "" if there is none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// ErrConfig is the category of every invalid Options error.
var ErrConfig = errors.New("invalid auth configuration")

func fail(r Reason, err error) *Error { return &Error{Reason: r, Err: err} }
