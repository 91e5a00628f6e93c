package transform

import "fmt"

// Action is what a caller gets for the values of a field class in a document
// being opened. It is decided per caller by the policy package and carried
// out here. The zero value is not an action; the transform treats it, and
// any other unknown value, as ActionDeny (fail closed).
type Action uint8

// Actions, from most to least revealing.
const (
	// ActionDecrypt returns the plaintext.
	ActionDecrypt Action = iota + 1
	// ActionMask returns Masker.Mask of the plaintext.
	ActionMask
	// ActionSealed returns the sealed value as stored.
	ActionSealed
	// ActionDeny refuses writes that carry the class and never returns its
	// plaintext: when opening, the value is left sealed and counted as denied.
	ActionDeny
)

// Action names, as written in the configuration and used in metrics and
// audit events.
const (
	NameDecrypt = "decrypt"
	NameMask    = "mask"
	NameSealed  = "sealed"
	NameDeny    = "deny"
)

// String returns the action's name (NameDecrypt, ...), or "action(N)" for a
// value that is not an action.
func (a Action) String() string {
	switch a {
	case ActionDecrypt:
		return NameDecrypt
	case ActionMask:
		return NameMask
	case ActionSealed:
		return NameSealed
	case ActionDeny:
		return NameDeny
	default:
		return fmt.Sprintf("action(%d)", uint8(a))
	}
}

// ParseAction reads an action name (NameDecrypt, NameMask, NameSealed or
// NameDeny).
func ParseAction(s string) (Action, error) {
	switch s {
	case NameDecrypt:
		return ActionDecrypt, nil
	case NameMask:
		return ActionMask, nil
	case NameSealed:
		return ActionSealed, nil
	case NameDeny:
		return ActionDeny, nil
	}
	return 0, fmt.Errorf("unknown action %q (decrypt, mask, sealed, deny)", s)
}

// normalize makes every unknown action a deny (fail closed).
func (a Action) normalize() Action {
	if a < ActionDecrypt || a > ActionDeny {
		return ActionDeny
	}
	return a
}
