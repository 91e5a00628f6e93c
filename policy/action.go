package policy

import "fmt"

// Action is what the proxy does with a protected value in a response. The
// zero value is not an action; Caller never returns it.
type Action uint8

// Actions, from most to least revealing.
const (
	ActionDecrypt Action = iota + 1 // return the plaintext
	ActionMask                      // return the masked plaintext (mask package)
	ActionSealed                    // return the sealed value as stored
	ActionDeny                      // refuse the request with 403; nothing forwarded
)

// Action names as written in the configuration.
const (
	NameDecrypt = "decrypt"
	NameMask    = "mask"
	NameSealed  = "sealed"
	NameDeny    = "deny"
)

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

// ParseAction reads a configured action name.
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
