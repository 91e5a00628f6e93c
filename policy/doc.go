// Package policy decides, per caller and field class, what the proxy does
// with protected values: decrypt them, mask them, leave them sealed, or deny
// the request; and which classes a caller may write. The actions are the
// transform package's transform.Action, which carries them out; a *Caller is
// a transform.Caller.
//
// A Policy is compiled once from the `policies:` config section (Spec) and
// is immutable. Resolve maps a verified token (*auth.Identity) to a Caller:
// the first configured caller whose match applies wins, in config order; a
// token that matches none gets the default rule under the id "default", and
// a request without a token gets the default rule under the id "anonymous"
// when allow_anonymous is true (otherwise it is refused with 401).
//
// Within a match, lists are alternatives (client id A or B) and the kinds
// present must all hold (client id in client_ids AND a scope in scopes).
//
// Least privilege is the default everywhere: a class a rule does not name
// (and no "*" entry) is sealed, and the built-in default rule seals every
// class on read. Writing is allowed unless restricted, because writing only
// ever seals a value and reveals nothing; `write: none` or a class list
// restricts it. `read: false` makes a write-only caller: every class sealed.
//
// Caller ids come from the configuration only, so they are safe metric
// labels; token subjects and usernames never become ids.
package policy
