package crypto

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
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
	// ErrGrace: a retire, minimum-version or destroy request names a version
	// that was primary less than the grace period ago (Grace). Sidecars
	// that have not refreshed since the rotation still seal new values
	// under it; retiring it would not stop them until their next refresh,
	// and destroying it would lose those values. It always comes wrapped in
	// ErrLifecycle.
	ErrGrace = errors.New("version was primary within the grace period")
	// ErrKeyIDsExhausted: the ring has issued version 4294967295, the
	// largest key id a sealed value's header holds (4 bytes, uint32), so
	// no rotation can add a version (NextID).
	ErrKeyIDsExhausted = errors.New("key ids exhausted")
)

// DefaultGrace is the grace period `fieldseal keys` uses unless told
// otherwise: twice the key cache's default refresh interval (15 minutes),
// so every sidecar on the default schedule has seen the rotation, with a
// margin for a failed refresh and its backoff.
const DefaultGrace = 30 * time.Minute

// Grace protects a version that was primary until recently from retire,
// destroy and a minimum above it. A version stops being primary when the
// next version is created (rotation makes the new version primary in the
// same write), so the rule reads the ring's creation times and needs no
// history. The zero value applies no grace period.
type Grace struct {
	// Period is how long after a version stopped being primary it stays
	// protected; 0 applies none (the operator checked that every sidecar
	// uses the new primary, e.g. on /readyz).
	Period time.Duration
	// Now is the time of the change (zero: time.Now()).
	Now time.Time
}

// Check reports whether version id may be retired, destroyed or put below
// the minimum now: keys holds the creation time of every version whose
// wrapped key the ring holds. id stopped being primary when the first
// later version in keys was created (a later version that was destroyed
// has no time any more; the next one is used, which errs on the safe
// side). ErrGrace wrapped in ErrLifecycle when that is less than Period
// ago; nil when no later version exists (the primary has its own rule).
func (g Grace) Check(id uint32, keys map[uint32]time.Time) error {
	if g.Period <= 0 {
		return nil
	}
	var until time.Time
	for v, created := range keys {
		if v > id && (until.IsZero() || created.Before(until)) {
			until = created
		}
	}
	if until.IsZero() {
		return nil
	}
	now := g.Now
	if now.IsZero() {
		now = time.Now()
	}
	if end := until.Add(g.Period); now.Before(end) {
		return fmt.Errorf("%w: v%d: %w: it was primary until %s, less than %s ago, and sidecars that have not refreshed since may still seal under it; retry after %s, or pass --grace with a shorter period once every sidecar reports the new primary (/readyz)",
			ErrLifecycle, id, ErrGrace, until.UTC().Format(time.RFC3339), g.Period, end.UTC().Format(time.RFC3339))
	}
	return nil
}

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

// RingVersions is the part of a stored key ring that says which version does
// what. Both providers embed it in the JSON form they store (its tags are
// that form's keys) and change it only through its methods, so the
// lifecycle rules are kept in one place. It holds no key material.
type RingVersions struct {
	// Primary is the version new random values are sealed under.
	Primary uint32 `json:"primary"`
	// MinVersion: versions below it are kept but never unwrapped.
	MinVersion uint32 `json:"min_version,omitempty"`
	// Retired versions open but may not become primary again.
	Retired []uint32 `json:"retired,omitempty"`
	// Destroyed versions have no wrapped key any more; their ids are never
	// reused.
	Destroyed []uint32 `json:"destroyed,omitempty"`
	// Lookup is the version deterministic values are sealed under (0 or
	// absent: the primary). Rotations pin it; RotateLookup moves it.
	Lookup uint32 `json:"lookup,omitempty"`
}

// LookupVersion is the version deterministic values are sealed under: Lookup,
// or the primary when the ring names none.
func (v *RingVersions) LookupVersion() uint32 { return lookupVersion(v.Lookup, v.Primary) }

// Live reports whether version id is to be unwrapped (not below the minimum).
func (v *RingVersions) Live(id uint32) bool { return id >= v.MinVersion }

// Lifecycle returns the rules NewKeyringLifecycle enforces, sharing no
// slice with v.
func (v *RingVersions) Lifecycle() Lifecycle {
	return Lifecycle{MinVersion: v.MinVersion, Retired: slices.Clone(v.Retired), Destroyed: slices.Clone(v.Destroyed), Lookup: v.Lookup}
}

// Clone returns a copy of v sharing no slice with it.
func (v RingVersions) Clone() RingVersions {
	v.Retired, v.Destroyed = slices.Clone(v.Retired), slices.Clone(v.Destroyed)
	return v
}

// HighestID is the highest version id a stored ring has issued: the
// highest of its keys' ids (id gives a key's) and of v's destroyed
// versions. Rotations issue the next one, so a destroyed id is never
// reused. Both providers' rings call it with their own key type.
func HighestID[K any](v *RingVersions, keys []K, id func(K) uint32) uint32 {
	var m uint32
	for _, k := range keys {
		m = max(m, id(k))
	}
	for _, d := range v.Destroyed {
		m = max(m, d)
	}
	return m
}

// NextID is the version id a rotation issues when the highest id the ring
// has issued is highest (HighestID): highest+1, or ErrKeyIDsExhausted when
// highest is already the largest id a sealed value's header holds, rather
// than wrapping to 0 and issuing a version id twice.
func NextID(highest uint32) (uint32, error) {
	if highest == math.MaxUint32 {
		return 0, ErrKeyIDsExhausted
	}
	return highest + 1, nil
}

// Check is CheckLifecycle then CheckLookup on a stored ring whose wrapped
// keys are the versions in present.
func (v *RingVersions) Check(present map[uint32]bool) error {
	if err := CheckLifecycle(v.Primary, v.MinVersion, v.Retired, v.Destroyed, present); err != nil {
		return err
	}
	return CheckLookup(v.Lookup, v.MinVersion, v.Retired, present)
}

// Retire marks version id retired after CheckRemove and g.Check (keys:
// the creation time of every version whose wrapped key the ring holds);
// changed is false when it already was.
func (v *RingVersions) Retire(id uint32, keys map[uint32]time.Time, g Grace) (changed bool, err error) {
	_, present := keys[id]
	if err := CheckRemove(id, present, v.Primary, v.Lookup); err != nil {
		return false, err
	}
	if slices.Contains(v.Retired, id) {
		return false, nil
	}
	if err := g.Check(id, keys); err != nil {
		return false, err
	}
	v.Retired = append(v.Retired, id)
	slices.Sort(v.Retired)
	return true, nil
}

// SetMinVersion sets the minimum decryptable version after
// CheckMinVersion and, when it rises, g.Check of the highest version it
// puts below the minimum (keys: as for Retire); changed is false when it
// already was min.
func (v *RingVersions) SetMinVersion(min uint32, keys map[uint32]time.Time, g Grace) (changed bool, err error) {
	if err := CheckMinVersion(min, v.Primary, v.Lookup); err != nil {
		return false, err
	}
	if min > v.MinVersion {
		var below uint32
		for id := range keys {
			if id < min && id >= v.MinVersion {
				below = max(below, id)
			}
		}
		if below != 0 {
			if err := g.Check(below, keys); err != nil {
				return false, err
			}
		}
	}
	changed = v.MinVersion != min
	v.MinVersion = min
	return changed, nil
}

// Destroy lists version id as destroyed after CheckRemove and g.Check
// (keys: as for Retire); the caller removes the wrapped key itself.
func (v *RingVersions) Destroy(id uint32, keys map[uint32]time.Time, g Grace) error {
	_, present := keys[id]
	if err := CheckRemove(id, present, v.Primary, v.Lookup); err != nil {
		return err
	}
	if err := g.Check(id, keys); err != nil {
		return err
	}
	v.Destroyed = append(v.Destroyed, id)
	slices.Sort(v.Destroyed)
	return nil
}

// Metadata returns the RingMetadata of a ring with these versions, format
// and ring id; the caller adds the keys (and an aws ring its CMK).
func (v *RingVersions) Metadata(format, ringID string) RingMetadata {
	return RingMetadata{Format: format, RingID: ringID, Primary: v.Primary, MinVersion: v.MinVersion,
		Retired: v.Retired, Destroyed: v.Destroyed, Lookup: v.Lookup}
}
