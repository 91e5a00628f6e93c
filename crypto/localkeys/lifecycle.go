package localkeys

import (
	"fmt"
	"slices"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
)

// ErrLifecycle is crypto.ErrLifecycle: a retire, minimum-version or destroy
// request that would leave the ring without a usable primary or lookup
// version, or names no such version.
var ErrLifecycle = crypto.ErrLifecycle

// lifecycleUpdate runs change, a change of the ring's versions that adds
// no key, through update; when change reports it changed nothing (the
// version is already retired, the minimum already set) nothing is written
// and no BeforeWrite hook runs, as with the aws provider.
func lifecycleUpdate(path string, mk MasterKey, what string, before []BeforeWrite, change func(rf *ringFile) (bool, error)) (*Status, error) {
	return update(path, mk, what, before, func(rf *ringFile) error {
		changed, err := change(rf)
		if err == nil && !changed {
			return errUnchanged
		}
		return err
	})
}

// Retire marks version id as retired: it still opens values but may never
// become primary again. The primary cannot be retired: rotate first; nor
// can the lookup version: move it first (RotateLookup), nor a version that
// was primary less than g.Period ago (crypto.ErrGrace).
func Retire(path string, mk MasterKey, id uint32, g crypto.Grace, before ...BeforeWrite) (*Status, error) {
	return lifecycleUpdate(path, mk, "retire v"+fmt.Sprint(id)+" in", before, func(rf *ringFile) (bool, error) {
		return rf.Retire(id, rf.created(), g)
	})
}

// SetMinVersion sets the minimum decryptable version: versions below min
// stay in the file but are not unwrapped, and values under them report
// crypto.ErrKeyDestroyed. Lowering it again makes them open again; Destroy
// is the irreversible step. min may not exceed the primary or the lookup
// version, nor put a version that was primary less than g.Period ago below
// it (crypto.ErrGrace).
func SetMinVersion(path string, mk MasterKey, min uint32, g crypto.Grace, before ...BeforeWrite) (*Status, error) {
	return lifecycleUpdate(path, mk, "set minimum version v"+fmt.Sprint(min)+" of", before, func(rf *ringFile) (bool, error) {
		return rf.SetMinVersion(min, rf.created(), g)
	})
}

// Destroy removes the wrapped key of version id for good (crypto-shredding):
// values sealed under it can never open again and report
// crypto.ErrKeyDestroyed. The id stays listed, so it is never reused. The
// primary, the lookup version and a version that was primary less than
// g.Period ago (crypto.ErrGrace) cannot be destroyed. Copies of the ring in
// backups still hold the key: destroy them too, or the version is not
// destroyed.
func Destroy(path string, mk MasterKey, id uint32, g crypto.Grace, before ...BeforeWrite) (*Status, error) {
	return update(path, mk, "destroy v"+fmt.Sprint(id)+" in", before, func(rf *ringFile) error {
		if err := rf.Destroy(id, rf.created(), g); err != nil {
			return err
		}
		rf.Keys = slices.DeleteFunc(rf.Keys, func(w wrapped) bool { return w.ID == id })
		return nil
	})
}

// Rewrap moves the ring at path from master key oldMK to newMK: every data
// key is unwrapped with oldMK, wrapped again with newMK and the metadata
// signed with newMK; ring id, versions and data keys stay, so every value
// keeps opening. After it, only newMK opens the ring: deploy newMK to every
// sidecar before or with the new file.
func Rewrap(path string, oldMK, newMK MasterKey, before ...BeforeWrite) (*Status, error) {
	if newMK.wrap == nil {
		return nil, fmt.Errorf("rewrap key ring %q: new master key: %w", path, ErrNoMasterKey)
	}
	return updateWith(path, oldMK, newMK, "rewrap", before, func(*ringFile) error { return nil })
}

// created is the creation time of every version whose wrapped key rf holds,
// for the lifecycle rules.
func (rf *ringFile) created() map[uint32]time.Time {
	m := make(map[uint32]time.Time, len(rf.Keys))
	for _, w := range rf.Keys {
		m[w.ID] = timeOf(w)
	}
	return m
}
