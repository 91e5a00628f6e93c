package localkeys

import "github.com/fieldseal/fieldseal/crypto"

// ErrLookupVersion is crypto.ErrLookupVersion: a retire, minimum-version
// or destroy request would take away the version deterministic values are
// sealed under. Move it first (RotateLookup, `fieldseal keys rotate-lookup`)
// and re-seal the stored values.
var ErrLookupVersion = crypto.ErrLookupVersion

// RotateLookup makes the current primary the lookup version of the ring at
// path, the version deterministic values are sealed under; it adds no key
// (Rotate first for a new one). From then on deterministic values seal
// differently, so a store must be searched under both (the API's
// POST /v1/lookup lists the values under the other versions) until its
// values are re-sealed. It is the only command that moves the lookup
// version; when the lookup version already is the primary nothing changes.
func RotateLookup(path string, mk MasterKey, before ...BeforeWrite) (*Status, error) {
	return lifecycleUpdate(path, mk, "rotate lookup version of", before, func(rf *ringFile) (bool, error) {
		if rf.Lookup == rf.Primary {
			return false, nil
		}
		rf.Lookup = rf.Primary
		return true, nil
	})
}
