package awskeys

import (
	"context"
	"errors"
	"fmt"
)

// ErrLookupVersion: a retire, minimum-version or destroy request would take
// away the version deterministic values are sealed under; equality lookups
// would stop finding every value sealed under it. Move it first (RotateLookup,
// `fieldseal keys rotate-lookup`) and re-seal the stored values.
var ErrLookupVersion = errors.New("version is the lookup version")

func errLookupVersion(id uint32) error {
	return fmt.Errorf("v%d: %w; move it first with `fieldseal keys rotate-lookup` and re-seal the deterministic values", id, ErrLookupVersion)
}

// RotateLookup rotates the ring (Rotate: a new version, wrapped under
// opts.KMSKeyID when set, else the ring's CMK, made primary) and also makes
// the new version the lookup version: from then on deterministic values seal
// differently, so a store must be searched under both (the API's
// POST /v1/lookup lists the values under the other versions) until its values
// are re-sealed. It is the only command that moves the lookup version.
func RotateLookup(ctx context.Context, opts Options) (*Status, error) {
	c, err := newClients(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var cmk cmkInfo
	return c.update(ctx, "rotate lookup version of", func(ctx context.Context, sv *secretVersion, r *ring) (bool, []uint32, error) {
		if cmk.arn == "" {
			if cmk, err = c.describeKey(ctx, first(opts.KMSKeyID, sv.ring.CMK)); err != nil {
				return false, nil, err
			}
		}
		if err := c.addPrimary(ctx, r, cmk.arn, opts.KMSKeyID); err != nil {
			return false, nil, err
		}
		r.Lookup = r.Primary
		return true, nil, nil
	})
}
