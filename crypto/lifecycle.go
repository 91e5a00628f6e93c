package crypto

import (
	"errors"
	"fmt"
	"slices"
)

// The lifecycle rules of a stored key ring, shared by every key provider so
// that each refuses the same changes with the same errors. They are pure:
// a provider reads its stored ring, asks here, and writes or refuses.

// Lifecycle change errors, for errors.Is. Providers return them (wrapped
// with the operation and the ring) from Retire, SetMinVersion and Destroy.
var (
	// ErrLifecycle: a retire, minimum-version or destroy request that would
	// leave the ring without a usable primary, or names no such version.
	ErrLifecycle = errors.New("key lifecycle change refused")
	// ErrLookupVersion: a retire, minimum-version or destroy request would
	// take away the version deterministic values are sealed under; equality
	// lookups would stop finding every value sealed under it. Move it first
	// (the providers' RotateLookup, `fieldseal keys rotate-lookup`) and
	// re-seal the stored values. It always comes wrapped in ErrLifecycle.
	ErrLookupVersion = errors.New("version is the lookup version")
)

// lookupVersion resolves a stored lookup version: 0 means the primary.
func lookupVersion(lookup, primary uint32) uint32 {
	if lookup != 0 {
		return lookup
	}
	return primary
}

func errLookupVersion(id uint32) error {
	return fmt.Errorf("v%d: %w; move it first with `fieldseal keys rotate-lookup` and re-seal the deterministic values", id, ErrLookupVersion)
}

// CheckRemove reports whether version id may be retired (it keeps opening,
// never seals again) or destroyed (its wrapped key goes): present says
// whether the ring still holds its wrapped key; primary and lookup are the
// ring's as stored (lookup 0: the primary). Neither the primary nor the
// lookup version may go: ErrLifecycle, with ErrLookupVersion for the latter.
func CheckRemove(id uint32, present bool, primary, lookup uint32) error {
	switch {
	case !present:
		return fmt.Errorf("%w: no key v%d", ErrLifecycle, id)
	case id == primary:
		return fmt.Errorf("%w: v%d is the primary; rotate first", ErrLifecycle, id)
	case id == lookupVersion(lookup, primary):
		return fmt.Errorf("%w: %w", ErrLifecycle, errLookupVersion(id))
	}
	return nil
}

// CheckMinVersion reports whether min may become the minimum decryptable
// version of a ring with this primary and lookup version as stored (lookup
// 0: the primary): it may exceed neither (ErrLifecycle, with
// ErrLookupVersion for the lookup version).
func CheckMinVersion(min, primary, lookup uint32) error {
	if min > primary {
		return fmt.Errorf("%w: minimum v%d is above the primary v%d", ErrLifecycle, min, primary)
	}
	if l := lookupVersion(lookup, primary); min > l {
		return fmt.Errorf("%w: minimum v%d: %w", ErrLifecycle, min, errLookupVersion(l))
	}
	return nil
}

// CheckLifecycle checks the version rules of a stored key ring whose
// wrapped keys are the versions in present: a destroyed version has no
// wrapped key any more, the primary has one, and the primary is neither
// retired nor below minVersion. Providers call it when they parse a ring
// and wrap its error in their own malformed-ring error; it names versions,
// never key material.
func CheckLifecycle(primary, minVersion uint32, retired, destroyed []uint32, present map[uint32]bool) error {
	for _, id := range destroyed {
		if present[id] {
			return fmt.Errorf("destroyed key v%d still has a wrapped key", id)
		}
	}
	if !present[primary] {
		return fmt.Errorf("primary v%d is not in the ring", primary)
	}
	if primary < minVersion || slices.Contains(retired, primary) {
		return fmt.Errorf("primary v%d is retired or below the minimum version", primary)
	}
	return nil
}

// CheckLookup checks the lookup version of a stored key ring whose wrapped
// keys are the versions in present (see CheckLifecycle): 0 (the primary) or
// a version that has its key, opens (not below minVersion) and is not
// retired. Providers call it after CheckLifecycle.
func CheckLookup(lookup, minVersion uint32, retired []uint32, present map[uint32]bool) error {
	switch {
	case lookup == 0:
		return nil
	case !present[lookup]:
		return fmt.Errorf("lookup v%d is not in the ring", lookup)
	case lookup < minVersion || slices.Contains(retired, lookup):
		return fmt.Errorf("lookup v%d is retired or below the minimum version", lookup)
	}
	return nil
}
