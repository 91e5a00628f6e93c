package crypto

import (
	"errors"
	"fmt"
)

// ErrDiscontinuous: a key ring read from a provider is not a later state of
// the ring in service (CheckSuccessor). Sealed values name only a key
// version, so serving it would seal under a version id that already means
// another key, or bring back a retired or destroyed version. A key cache
// keeps the ring it has; a deliberate re-creation or restore of an older
// ring takes a restart.
var ErrDiscontinuous = errors.New("key ring is not a successor of the ring in service")

// Continuity reasons, the bounded values of ContinuityError.Reason (and of
// a metric label).
const (
	ReasonRingID      = "ring_id"      // another ring identity: a re-created ring
	ReasonLostVersion = "lost_version" // a version is gone without being destroyed or put below the minimum
	ReasonKeyChanged  = "key_changed"  // a version id now holds another key
	ReasonUnretired   = "unretired"    // a retired version is no longer retired
	ReasonUndestroyed = "undestroyed"  // a destroyed version has a key again
	ReasonMinLowered  = "min_lowered"  // the minimum decryptable version went down
	ReasonPrimaryBack = "primary_back" // the primary is older than the one in service
)

// ContinuityError says why CheckSuccessor refused a ring; it wraps
// ErrDiscontinuous. Its text names versions and ring ids, never key
// material.
type ContinuityError struct {
	// Reason is one of the Reason constants.
	Reason string
	// Detail is a short description for logs.
	Detail string
}

func (e *ContinuityError) Error() string {
	return fmt.Sprintf("%s: %s (%s)", ErrDiscontinuous, e.Detail, e.Reason)
}

func (e *ContinuityError) Unwrap() error { return ErrDiscontinuous }

// CheckSuccessor reports whether next may replace prev in service: same
// ring id; every version of prev is still in next (with a key, destroyed,
// or below next's minimum); a version with a key in both holds the same
// key; nothing retired or destroyed comes back; the minimum does not go
// down and the primary does not go back. These are the changes the
// lifecycle commands make; anything else is a replayed copy (an older
// genuine ring put back), a re-created ring, or a restore, which a running
// process must not adopt. A nil prev accepts any ring. The error is a
// *ContinuityError.
func CheckSuccessor(prev, next *Keyring) error {
	if prev == nil || next == nil {
		return nil
	}
	refuse := func(reason, format string, args ...any) error {
		return &ContinuityError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	if prev.ringID != next.ringID {
		return refuse(ReasonRingID, "ring id %q in service, %q read", prev.ringID, next.ringID)
	}
	if next.minVer < prev.minVer {
		return refuse(ReasonMinLowered, "minimum version v%d in service, v%d read", prev.minVer, next.minVer)
	}
	if next.primary.id < prev.primary.id {
		return refuse(ReasonPrimaryBack, "primary v%d in service, v%d read", prev.primary.id, next.primary.id)
	}
	nextInfo := make(map[uint32]KeyInfo, len(next.versions))
	for _, v := range next.versions {
		nextInfo[v.ID] = v
	}
	for _, v := range prev.versions {
		n, ok := nextInfo[v.ID]
		switch {
		case !ok && v.ID >= next.minVer:
			return refuse(ReasonLostVersion, "v%d is in service but not in the ring read", v.ID)
		case !ok:
			continue // now below the minimum
		case v.Destroyed && !n.Destroyed:
			return refuse(ReasonUndestroyed, "v%d is destroyed in service but has a key in the ring read", v.ID)
		case v.Retired && !n.Retired:
			return refuse(ReasonUnretired, "v%d is retired in service but not in the ring read", v.ID)
		}
		pk, pok := prev.keys[v.ID]
		nk, nok := next.keys[v.ID]
		if pok && nok && !pk.SameKey(nk) {
			return refuse(ReasonKeyChanged, "v%d holds another key in the ring read", v.ID)
		}
	}
	return nil
}
