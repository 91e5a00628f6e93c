package proxy

import (
	"net/http"

	"github.com/fieldseal/fieldseal/crypto"
)

// Action is what a caller gets for a field class in a response.
// The zero value is not a valid action and is treated as ActionDeny.
type Action uint8

const (
	// ActionDecrypt returns the plaintext.
	ActionDecrypt Action = iota + 1
	// ActionMask returns Masker.Mask of the plaintext.
	ActionMask
	// ActionSealed returns the sealed value.
	ActionSealed
	// ActionDeny refuses requests that carry the class and never returns its
	// plaintext: in responses the value is left sealed and counted as denied.
	ActionDeny
)

// String returns the action's lower-case name, as used in metrics and events.
func (a Action) String() string {
	switch a {
	case ActionDecrypt:
		return "decrypt"
	case ActionMask:
		return "mask"
	case ActionSealed:
		return "sealed"
	default:
		return "deny"
	}
}

// normalize makes every unknown action a deny (fail closed).
func (a Action) normalize() Action {
	if a < ActionDecrypt || a > ActionDeny {
		return ActionDeny
	}
	return a
}

// Caller is an authenticated client. Implementations are read concurrently
// and must not change after Authenticate returns them.
type Caller interface {
	// ID is a bounded, loggable identity (client id or policy name), never a
	// token or a personal attribute.
	ID() string
	// Action is what this caller gets for values of class in responses.
	Action(class string) Action
	// MayWrite reports whether this caller may send values of class; a
	// request carrying a class it may not write is refused with 403.
	MayWrite(class string) bool
}

// Authenticator identifies the caller of a request to a protected route.
// A returned error that wraps ErrForbidden answers 403; any other error
// answers 401. Authenticate runs only for protected routes.
type Authenticator interface {
	Authenticate(r *http.Request) (Caller, error)
}

// Masker renders a value for callers whose action is ActionMask. plaintext is
// the opened value (a string's decoded content, or the raw JSON text of other
// types). Mask returns the text to show, starting with MaskedPrefix; the
// proxy writes it as a JSON string. It must not return plaintext it was not
// meant to reveal.
//
// A Masker may also implement IsMasked(content []byte) bool; the proxy then
// uses it instead of the MaskedPrefix check to refuse masked values sent back.
type Masker interface {
	Mask(class string, plaintext []byte, typ crypto.JSONType) []byte
}

// MaskedPrefix starts every masked value (the mask package's mark). A write
// carrying it in a protected field is refused with 422: a client that read a
// masked record and sends it back must not overwrite the stored value.
const MaskedPrefix = "fsm:"

// maskDetector is the optional half of a Masker.
type maskDetector interface {
	IsMasked(content []byte) bool
}

// fullAccess is the caller used when no Authenticator is configured: every
// class is written and decrypted (the quick-start behaviour).
type fullAccess struct{}

func (fullAccess) ID() string           { return "anonymous" }
func (fullAccess) Action(string) Action { return ActionDecrypt }
func (fullAccess) MayWrite(string) bool { return true }

// fixedMasker is used when ActionMask is asked for but no Masker is
// configured: it reveals nothing (the mask package's "full" format).
type fixedMasker struct{}

func (fixedMasker) Mask(string, []byte, crypto.JSONType) []byte { return []byte(MaskedPrefix + "***") }
