package awskeys

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
)

// checkSize refuses a ring body above Options.MaxRingBytes (ErrRingTooLarge)
// and returns a notice, also logged as ring_size_warning, when it is above
// RingSizeWarnPercent of it. The emulators do not enforce Secrets Manager's
// limit, so this check is the one that counts in tests and in production alike.
func (c *clients) checkSize(what, name string, body string) ([]string, error) {
	limit := c.opts.MaxRingBytes
	if len(body) > limit {
		return nil, fmt.Errorf("%s key ring in secret %q: %w: %d bytes, limit %d; destroy old versions (fieldseal keys destroy VERSION --yes) to make room",
			what, name, ErrRingTooLarge, len(body), limit)
	}
	if len(body)*100 <= limit*RingSizeWarnPercent {
		return nil, nil
	}
	n := fmt.Sprintf("key ring secret %q holds %d of %d bytes (%d%%); destroy old versions (fieldseal keys destroy VERSION --yes) before it is full",
		name, len(body), limit, len(body)*100/limit)
	c.opts.Logger.Warn().Str("event", "ring_size_warning").Str("secret", name).Int("bytes", len(body)).Int("limit", limit).Msg(n)
	return []string{n}, nil
}

// Retire marks version id as retired: it still opens values but never seals
// again and may not become primary. The primary cannot be retired: rotate
// first; nor can the lookup version: move it first (RotateLookup); nor a
// version that was primary less than g.Period ago (crypto.ErrGrace).
func Retire(ctx context.Context, opts Options, id uint32, g crypto.Grace) (*Status, error) {
	return lifecycleUpdate(ctx, opts, "retire v"+strconv.FormatUint(uint64(id), 10)+" in", func(r *ring) (bool, error) {
		return r.Retire(id, created(r), g)
	})
}

// SetMinVersion sets the minimum decryptable version: versions below it stay in
// the ring but are not unwrapped, and values under them report
// crypto.ErrKeyDestroyed. Lowering it again makes them open again; Destroy is the
// irreversible step. min may not exceed the primary or the lookup version,
// nor put a version that was primary less than g.Period ago below it
// (crypto.ErrGrace).
func SetMinVersion(ctx context.Context, opts Options, min uint32, g crypto.Grace) (*Status, error) {
	return lifecycleUpdate(ctx, opts, "set minimum version v"+strconv.FormatUint(uint64(min), 10)+" of", func(r *ring) (bool, error) {
		return r.SetMinVersion(min, created(r), g)
	})
}

// Destroy removes the wrapped key of version id from the ring (crypto-shredding,
// and the way a ring is kept within the secret size limit): values under it
// report crypto.ErrKeyDestroyed. The id stays listed so it is never reused. The
// primary, the lookup version and a version that was primary less than
// g.Period ago (crypto.ErrGrace) cannot be destroyed. Earlier secret versions (AWSPREVIOUS and
// unlabelled ones Secrets Manager keeps for a while) and backups still hold the
// wrapped key; docs/keys.md says how to make the version unreadable there too
// (a KMS key policy Deny on its encryption context).
func Destroy(ctx context.Context, opts Options, id uint32, g crypto.Grace) (*Status, error) {
	return lifecycleUpdate(ctx, opts, "destroy v"+strconv.FormatUint(uint64(id), 10)+" in", func(r *ring) (bool, error) {
		if slices.Contains(r.Destroyed, id) {
			return false, nil
		}
		if err := r.Destroy(id, created(r), g); err != nil {
			return false, err
		}
		r.Keys = slices.DeleteFunc(r.Keys, func(k wrappedKey) bool { return k.ID == id })
		return true, nil
	})
}

// created is the creation time of every version whose wrapped key r holds,
// for the lifecycle rules.
func created(r *ring) map[uint32]time.Time {
	m := make(map[uint32]time.Time, len(r.Keys))
	for _, k := range r.Keys {
		m[k.ID] = k.Created
	}
	return m
}

// lifecycleUpdate runs change, a change of the ring's versions that
// neither adds nor re-wraps a key (retire, minimum version, destroy, the
// lookup version), through update's read-modify-write loop; an error from
// change names what and the secret.
func lifecycleUpdate(ctx context.Context, opts Options, what string, change func(r *ring) (bool, error)) (*Status, error) {
	c, err := newClients(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer c.close()
	return c.update(ctx, what, func(_ context.Context, _ *secretVersion, r *ring) (bool, []uint32, error) {
		changed, err := change(r)
		if err != nil {
			return false, nil, fmt.Errorf("%s key ring in secret %s: %w", what, c.secretRef(), err)
		}
		return changed, nil, nil
	})
}
