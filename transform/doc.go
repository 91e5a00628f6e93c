// Package transform is fieldseal's body transform: it seals and opens the
// values a field map names in whole JSON documents, for one caller and one
// key ring. The proxy runs it on protected request and response bodies, the
// CLI's encrypt and decrypt run it on a document from stdin, and an API or a
// backfill can run it the same way. It knows nothing of HTTP, configuration,
// logging or metrics: what it did is counted in Stats for the caller to
// report.
//
// A Transform is set up (New, or Reset in place) from Params: a
// *fieldmap.Side (which values, which classes), a *crypto.Keyring, a Caller
// (the Action per class and whether it may write the class; nil is
// FullAccess), the AAD context value, a Masker and an optional key Refresh.
// Seal(dst, doc) and Open(dst, doc) then append the transformed document to
// dst in one pass of rewrite.Plan.Apply, which also validates doc.
//
// Invariants (fail closed):
//
//   - Seal seals every value of the side (any JSON type; the type comes back
//     on Open). Values already sealed are kept only if they open for that
//     field (class and context), else ErrInvalidSealedValue: a value cut from
//     another field or record cannot be planted. A masked value (mask.Prefix,
//     however escaped) is ErrMaskedValue, so a masked record read and sent
//     back never overwrites the stored value. A class the caller may not
//     write (ActionDeny, or MayWrite false) is ErrForbidden.
//   - Open gives each value the caller's Action: decrypt, mask (Masker),
//     sealed, or deny (left sealed, counted as denied). Legacy plaintext
//     (no sealed prefix) is kept only for ActionDecrypt, masked for
//     ActionMask and sealed for the others: a caller never receives
//     plaintext of a class it may not read. Unknown actions are ActionDeny.
//   - A value carrying the sealed prefix that does not open is ErrOpen (or,
//     with LeaveSealedOnOpenError, left sealed and counted); it is never
//     guessed at or passed on as plaintext.
//   - A value naming a key the ring lacks makes the Transform ask its
//     Refresh's KeyRefresher once (per Refresh) for a ring holding it and
//     use that ring for the rest of the document; values that open cost
//     nothing extra.
//
// Every value error is a *FieldError naming the field's configured path and
// class, never its value. Actions are defined here and decided by the policy
// package; ops and results in Stats are the label values of the proxy's
// field metrics.
//
// Performance: a Transform consults the Caller once per field at Reset,
// not per value; AAD and opened plaintext use scratch space inside it; a
// Transform embedded in pooled state (the proxy's) allocates nothing of its
// own for sides of up to eight fields.
package transform
