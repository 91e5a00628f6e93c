// Package proxy is fieldseal's reverse proxy: it forwards HTTP traffic to one
// upstream and, on the routes a field map protects, has the transform package
// seal configured JSON values in request bodies and open (or mask, or leave
// sealed) them in response bodies. It owns the HTTP side: listeners' handler,
// request semantics (bodies, encodings, limits, timeouts), route matching,
// caller authentication (an Authenticator; PolicyAuthenticator for the
// policy package), one request event per protected request (AuditEvent
// turns it into the audit record) and the proxy's metrics. The admin
// endpoints are the admin package's.
//
// The handler is an [httputil.ReverseProxy] with three hooks filled in:
// Rewrite (SetURL, SetXForwarded, request id), ModifyResponse (the response
// transform) and ErrorHandler (one JSON error shape, one status mapping in
// errors.go, covering the transform's error categories too). Hop-by-hop
// headers are stripped by ReverseProxy itself. Per request the proxy keeps
// its state, both transform.Transforms and their Stats in one pooled value,
// so a protected request allocates little beyond its body buffers.
//
// Invariants (DESIGN.md section 8, fail closed):
//
//   - Every request is guarded (guard.go): a request no route lists goes
//     through the map's Unmatched route, whose sides seal class members and
//     open sealed values wherever they are. JSON, JSON-looking and form
//     bodies are read (bounded) on every route; bodies of other types stream
//     through untouched, as do websocket upgrades on routes that seal no
//     request path. What the application could read differently from
//     fieldseal (charsets, content types, h2c, shapes, depth) is refused or,
//     for h2c, ignored.
//   - On a protected route nothing is forwarded unless every configured field
//     present in the request body was sealed (or was already sealed). Any
//     failure (wrong content type, invalid JSON, body too large, no key ring,
//     caller refused, body too slow) answers with a JSON error and the
//     upstream sees nothing. Protected bodies are read whole, bounded by
//     MaxBodyBytes (also after decompression) and BodyTimeout.
//   - Request bodies are forwarded identity-encoded: a gzip, deflate, br or
//     zstd body is decoded, sealed, and sent without Content-Encoding (nor the
//     client's Expect: 100-continue, already answered) with a correct
//     Content-Length. A route's query parameters (and filter literals) are
//     sealed in the URL (query.go).
//   - Response bodies on protected routes are transformed only for 2xx JSON
//     (or a type the route lists, or sniffs: responsetypes.go), bounded by
//     MaxResponseBytes (largeresponse.go says what a write gets past it); a
//     compressed response is decoded, transformed and re-encoded with the
//     same Content-Encoding, and the upstream is offered only codings the
//     proxy decodes (acceptencoding.go). Feeds (SSE, NDJSON) are transformed
//     record by record as they stream (stream.go). A value carrying the
//     sealed prefix that does not open is a 502 (or, with
//     LeaveSealedOnOpenError, is left sealed); it is never guessed at or
//     passed on as plaintext.
//   - Rotation without downtime across sidecars: a value naming a key id the
//     ring lacks (another sidecar already seals under a key this one has not
//     loaded) makes the proxy ask a [transform.KeyRefresher] (the key cache)
//     for that key once per request, bounded by the request's context, and
//     open the value, and the rest of the body, with the ring it returns. Only
//     if that fails does LeaveSealedOnOpenError apply. The cache shares one
//     provider call among concurrent requests and rate-limits such refreshes,
//     since key ids in stored data can be forged. Values that open cost nothing extra. The same
//     holds for already-sealed values a client sends back.
//   - A caller never receives plaintext for a class it may not read: for the
//     sealed and deny actions, legacy plaintext values are sealed on the way out,
//     and for mask they are masked. Deny in a response leaves the value sealed
//     (counted as denied); deny or a class the caller may not write in a request
//     body is a 403.
//   - A protected field carrying a masked value (mask.Prefix "fsm:", however
//     escaped) is refused with 422: a masked record read and sent back must
//     never overwrite the stored value.
//   - Values a client sends already sealed are kept (idempotent writes) only if
//     they open for that field (class and context); otherwise 400, so a value
//     cut from another field or record cannot be planted.
//
// HTTP details of transformed responses: Content-Length is recomputed; a
// strong ETag is made weak (the bytes differ from the upstream's, the
// resource state does not; also on a 304, and a weak tag in If-Match goes
// upstream strong: conditional.go), and Content-MD5/Digest headers are
// dropped. With an Authenticator every response to a guarded request
// carries "Vary: Authorization", changed or not (a caller who decrypts
// every class gets legacy plaintext unchanged, which a shared cache must
// not hand to another caller), 304s included. Server-sent events are read
// as EventSource reads them (lines end at CRLF, LF or CR; a leading byte
// order mark is dropped), and a stream no route lists is opened too for a
// caller who may not read some class. Range and If-Range are removed from requests
// to routes with response fields (a byte range of JSON cannot be
// transformed); a 206 passes untouched.
//
// Which routes protect a request is decided by [fieldmap.Map.LookupAll]
// alone, which fails closed: it tries every reading of the request an
// upstream may apply (the path as sent and its path.Clean form, the method
// upper-cased or named by X-HTTP-Method-Override and similar headers or a
// _method parameter). The first route it gives protects the request; the
// request is then sealed, and its response opened, under every other route
// it gives and every route a POST body's _method names too (routes.go), so
// whichever route the application takes holds no plaintext of its fields.
//
// The field map and key ring are read lock-free (atomic pointers), so a reload
// swaps them with [Proxy.SetMap] and the key cache's own refresh.
package proxy
