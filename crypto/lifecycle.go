package crypto

import (
	"errors"
	"fmt"
)

// ErrLifecycle: a retire, minimum-version or destroy request that would
// leave a key ring without a usable primary, or names no such version.
// The key providers return it (under their own names) for a refused
// lifecycle change.
var ErrLifecycle = errors.New("key lifecycle change refused")

// CheckVersionChange is the rule every provider applies before it retires
// or destroys version id of a ring whose primary is primary: the ring must
// hold id (present), and id must not be the primary (rotate first). The
// error wraps ErrLifecycle and names versions only.
func CheckVersionChange(id, primary uint32, present bool) error {
	switch {
	case !present:
		return fmt.Errorf("%w: no key v%d", ErrLifecycle, id)
	case id == primary:
		return fmt.Errorf("%w: v%d is the primary; rotate first", ErrLifecycle, id)
	}
	return nil
}

// CheckMinVersion is the rule every provider applies before it sets the
// minimum decryptable version: min may not exceed the primary, which must
// keep opening. The error wraps ErrLifecycle.
func CheckMinVersion(min, primary uint32) error {
	if min > primary {
		return fmt.Errorf("%w: minimum v%d is above the primary v%d", ErrLifecycle, min, primary)
	}
	return nil
}
