// Package api is fieldseal's encryption API: an HTTP handler for services
// that seal and open values themselves (a new service, a batch job, a data
// pipeline) instead of sending their traffic through the proxy. It serves
//
//	POST /v1/seal    seal values (by class) or whole documents (by route or field list)
//	POST /v1/open    open them, per the caller's policy action per class
//	POST /v1/lookup  the deterministic sealed value of a plaintext, to search a store by,
//	                 and its values under the ring's other key versions ("others")
//
// on a listener of its own (the `api:` config section; off by default). The
// request and response shapes are described in openapi.yaml beside this
// file, which a test checks against the handler.
//
// One implementation, one wire format: every value is sealed and opened by
// package transform with the key ring the proxy uses, and a value item is a
// one-field document of its class, so a value sealed here opens through the
// proxy and the other way round. The AAD binds the class and the item's
// context, which must equal the value of the route's context header in the
// proxy.
//
// A call is a batch: answers come in the order of the items, and an item
// that fails carries its own error ({"error":{"code","message"}}) while the
// others succeed; the call as a whole answers 200. Only problems of the
// call itself (no keys, caller refused, body not JSON, too large or too
// slow, not a batch) answer with an error status, in the proxy's JSON error
// shape (package jsonerror) and with the proxy's codes.
//
// Invariants (fail closed):
//
//   - Every call is authenticated by an Authenticator (the policy package's
//     callers on verified bearer JWTs, PolicyAuthenticator); a call without
//     a token is refused with 401 unless anonymous calls were configured. A
//     nil Authenticator refuses every call.
//   - The caller's policy decides per class: seal and lookup need the right
//     to write the class (else the item is forbidden); open gives each
//     value the caller's action (decrypt, mask, sealed), and a value item
//     of a class the caller is denied is forbidden. An encrypt-only caller
//     (read: false) can seal and never open.
//   - A value that carries the sealed prefix and does not open is an item
//     error (open_failed), never passed on as plaintext; a masked value is
//     never sealed (masked_value).
//   - A value to seal that is already sealed follows the proxy's rule: it
//     is refused (sealed_value_refused) unless the caller may send sealed
//     values (transform.SealedWriter, policies' write_sealed) or the API has
//     no authentication and guard.sealed_writes is accept; a kept value must
//     open for its class and context (invalid_sealed_value otherwise).
//   - Documents are handled as the proxy handles a route's bodies: class
//     members (class keys) at any depth and sealed values anywhere, besides
//     the listed paths; a path meeting another shape than it implies on seal
//     is shape_mismatch, nesting beyond the bound too_deep.
//   - Every call is one audit event (audit.TypeAPI) with the caller,
//     operation, classes, counts, key ids, item errors by code and outcome,
//     never a value; and counted in the fieldseal_api_* metrics by caller
//     and operation.
//   - Bodies are bounded (MaxBodyBytes, MaxItems) and read within
//     BodyTimeout; a compressed body is refused.
package api
