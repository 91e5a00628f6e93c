// Package auth verifies the bearer JWTs that callers of fieldseal present, as
// Amazon Cognito issues them and as any OIDC issuer with a JWKS URL does.
//
// A Verifier checks, in this order: the token is present and well formed; its
// "alg" is one of the configured asymmetric algorithms (never "none", never an
// HMAC algorithm, so a token "signed" with the issuer's public key as an HMAC
// secret is refused before any key is looked up); its signature verifies with
// the key its "kid" names in the issuer's JWKS; "exp" (required) and "nbf"
// hold within a small leeway; "iss" equals the configured issuer; the token is
// meant for us ("aud" or Cognito's "client_id"); and "token_use" matches when
// configured.
//
// Keys come from a JWKS cache (github.com/MicahParks/jwkset): fetched at start, refreshed periodically, and
// refetched when a token names an unknown kid. That refetch is rate-limited
// (one per UnknownKIDInterval, burst 1): a token that finds the limiter empty
// fails at once with ReasonUnknownKID unless the limiter refills within
// HTTPTimeout, so a flood of tokens with made-up kids costs the issuer at
// most one request per interval and queues no requests.
//
// Tokens that pass are remembered in a bounded LRU keyed by the exact token
// string, so a repeated token (the norm: a caller reuses its access token
// until it expires) skips the signature check. The cache never outlives the
// token: exp and nbf are re-checked on every use with the verifier's clock
// and leeway, and a JWKS replacement that removes or re-keys a kid drops every
// token that kid's key verified. Refused tokens are not remembered.
//
// Every failure is an *Error with a Reason from a fixed, small set, suitable
// as a metric label and an audit field; its message never contains the token
// or any claim value.
//
// JWT parsing and signature checks are github.com/golang-jwt/jwt/v5; this
// package only chooses the options and maps the outcomes.
package auth
