package awskeys

import (
	"context"

	"github.com/fieldseal/fieldseal/crypto"
)

// ErrLookupVersion is crypto.ErrLookupVersion: a retire, minimum-version
// or destroy request would take away the version deterministic values are
// sealed under. Move it first (RotateLookup, `fieldseal keys rotate-lookup`)
// and re-seal the stored values.
var ErrLookupVersion = crypto.ErrLookupVersion

// RotateLookup makes the current primary the lookup version, the version
// deterministic values are sealed under; it adds no key (Rotate first for a
// new one), so it also works on a ring at the secret size limit. From then
// on deterministic values seal differently, so a store must be searched
// under both (the API's POST /v1/lookup lists the values under the other
// versions) until its values are re-sealed. It is the only command that
// moves the lookup version; when the lookup version already is the primary
// nothing is written.
func RotateLookup(ctx context.Context, opts Options) (*Status, error) {
	return lifecycleUpdate(ctx, opts, "rotate lookup version of", func(r *ring) (bool, error) {
		if r.Lookup == r.Primary {
			return false, nil
		}
		r.Lookup = r.Primary
		return true, nil
	})
}
