package keycache

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/periodic"
)

// RotationPolicy says when the primary key version is due for rotation.
// The zero value never makes it due.
type RotationPolicy struct {
	// MaxAge: the primary is due once its creation time is older (0: no
	// bound on age).
	MaxAge time.Duration
	// MaxSeals: the primary is due once this process sealed that many
	// values under it (0: no bound on use). Seal counts are per process
	// (crypto.Keyring.SealCount): with n processes sealing at similar
	// rates the fleet has sealed about n times MaxSeals when the first one
	// reaches it.
	MaxSeals uint64
}

// RotateFunc rotates the stored ring if rotate, given the stored ring's
// primary version, returns true, and reports whether it added a version.
// It must check and write atomically (a lock, a compare-and-swap):
// localkeys.RotateIf and awskeys.RotateIf do. The Rotator asks "is the
// primary still the version I found due?", so processes that find the same
// version due at once add one version between them.
type RotateFunc func(ctx context.Context, rotate func(primary crypto.KeyInfo) bool) (rotated bool, err error)

// RotatorOptions configure a Rotator.
type RotatorOptions struct {
	Policy RotationPolicy
	// Rotate rotates the stored ring; nil when this process may not write
	// it (a read-only ring file, an aws sidecar without the permission):
	// then a due rotation is only reported (Observer, OnEvent).
	Rotate RotateFunc
	// CheckInterval is how often the primary is checked (default 10s).
	// Checks read memory only; a seal count overshoots MaxSeals by at most
	// the seals of one interval.
	CheckInterval time.Duration
	// RetryInterval is the least time between two rotation attempts while
	// the cache still shows the same primary (default 1m): after a failed
	// attempt, or a refresh that did not bring the new ring. A due age also
	// waits a random part of it, drawn once per Rotator, so a fleet whose
	// primary comes of age at one instant does not call the provider at
	// that instant.
	RetryInterval time.Duration
	// Timeout bounds one rotation attempt (default 1m).
	Timeout time.Duration
	// Observer hears every check (nil: nobody). Monitor implements it.
	Observer RotationObserver
	// OnEvent, if set, receives EventRotated when this process rotated the
	// ring and EventRotationDue once per primary found due that it does
	// not rotate (audit hook).
	OnEvent func(KeyEvent)
	// Now is the clock for ages (default time.Now). Run's ticker uses the
	// time package, so tests in a testing/synctest bubble control it.
	Now func() time.Time
}

// Rotation reasons (RotationCheck.Reason, KeyEvent.Reason, the reason label
// of fieldseal_keys_rotation_due).
const (
	ReasonAge   = "age"
	ReasonSeals = "seals"
)

// Rotation attempt results (RotationCheck.Result, the result label of
// fieldseal_keys_rotations_total).
const (
	RotationRotated = "rotated" // this process added the new primary
	// RotationNotNeeded: another process had rotated first (the stored
	// primary was no longer the one found due).
	RotationNotNeeded = "not_needed"
	RotationFailed    = "failed" // the provider refused or failed; retried after RetryInterval
)

// RotationCheck reports one check of the primary against the policy.
type RotationCheck struct {
	// Primary is the version checked (0: no ring loaded, nothing checked).
	Primary uint32
	// Age is the primary's age; Seals the values this process sealed
	// under it.
	Age   time.Duration
	Seals uint64
	// DueAge and DueSeals say which bound the primary passed; Reason is
	// the first of ReasonAge, ReasonSeals that applies ("" when not due).
	DueAge, DueSeals bool
	Reason           string
	// Result is the attempt's result when this check tried to rotate
	// ("" when it did not try), with Err on RotationFailed.
	Result string
	Err    error
	// FirstDue is true on the first check that found this primary due.
	FirstDue bool
	// CanRotate reports whether the Rotator may write the ring.
	CanRotate bool
	Time      time.Time
}

// RotationObserver hears every check of a Rotator; it must not block for
// long.
type RotationObserver interface {
	RotationChecked(RotationCheck)
}

// Key event kinds of a Rotator (KeyEvent.Kind).
const (
	// EventRotated: this process found the primary due and rotated the
	// ring; Primary is the new primary, Reason why.
	EventRotated = "rotated"
	// EventRotationDue: the primary (Primary) is due and this process may
	// not rotate the ring; once per primary.
	EventRotationDue = "rotation_due"
)

// Rotator rotates the cache's ring when its primary passes a RotationPolicy
// bound, or reports that it is due: the rotation on age and on use that a
// sidecar does itself. Run it beside Cache.Run; it reads the ring the cache
// serves and, after a rotation attempt, refreshes the cache so that this
// process seals under the new primary at once. Other processes see the new
// primary on their next refresh and open its values meanwhile through
// RefreshForKey.
type Rotator struct {
	c    *Cache
	opts RotatorOptions
	// ageDelay is this Rotator's random wait past MaxAge.
	ageDelay time.Duration

	// Owned by the Run goroutine (or the test calling check).
	tried   uint32    // primary of the last attempt
	triedAt time.Time // when
	dueFor  uint32    // primary last reported due
}

// NewRotator returns a Rotator over c's ring.
func NewRotator(c *Cache, opts RotatorOptions) *Rotator {
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 10 * time.Second
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	return &Rotator{c: c, opts: opts, ageDelay: time.Duration(rand.Int64N(int64(opts.RetryInterval)))}
}

// Run checks the primary every CheckInterval until ctx is done. With an
// empty policy it returns at once.
func (r *Rotator) Run(ctx context.Context) {
	if r.opts.Policy == (RotationPolicy{}) {
		return
	}
	periodic.Run(ctx, r.opts.CheckInterval, func() { r.check(ctx) })
}

// check runs one check and, when due and allowed, one rotation attempt.
func (r *Rotator) check(ctx context.Context) RotationCheck {
	now := r.opts.Now()
	ring := r.c.Keyring()
	var ck RotationCheck
	ck.Time, ck.CanRotate = now, r.opts.Rotate != nil
	primary, ok := primaryInfo(ring)
	if !ok {
		return ck
	}
	p := r.opts.Policy
	ck.Primary, ck.Age, ck.Seals = primary.ID, now.Sub(primary.Created), ring.SealCount(primary.ID)
	ck.DueAge = p.MaxAge > 0 && ck.Age > p.MaxAge
	ck.DueSeals = p.MaxSeals > 0 && ck.Seals >= p.MaxSeals
	switch {
	case ck.DueAge:
		ck.Reason = ReasonAge
	case ck.DueSeals:
		ck.Reason = ReasonSeals
	}
	if ck.Reason != "" && r.dueFor != primary.ID {
		r.dueFor, ck.FirstDue = primary.ID, true
		if r.opts.Rotate == nil {
			r.emit(KeyEvent{Kind: EventRotationDue, Reason: ck.Reason, Primary: primary.ID, Revision: ring.Revision()})
		}
	}
	// An age alone waits this process's random delay past the bound.
	ready := ck.DueSeals || (ck.DueAge && ck.Age > p.MaxAge+r.ageDelay)
	if ready && r.opts.Rotate != nil && (r.tried != primary.ID || now.Sub(r.triedAt) >= r.opts.RetryInterval) {
		r.tried, r.triedAt = primary.ID, now
		actx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
		rotated, err := r.opts.Rotate(actx, func(stored crypto.KeyInfo) bool { return stored.ID == primary.ID })
		cancel()
		switch {
		case err != nil:
			ck.Result, ck.Err = RotationFailed, err
		case rotated:
			ck.Result = RotationRotated
		default:
			ck.Result = RotationNotNeeded
		}
		if err == nil {
			// Seal under the new primary now rather than at the next
			// periodic refresh. A failure here is the cache's to report.
			_ = r.c.Refresh(ctx)
		}
		if rotated {
			next := r.c.Keyring()
			r.emit(KeyEvent{Kind: EventRotated, Reason: ck.Reason, Primary: next.Primary(), Revision: next.Revision(), Versions: versionIDs(next)})
		}
	}
	if r.opts.Observer != nil {
		r.opts.Observer.RotationChecked(ck)
	}
	return ck
}

func (r *Rotator) emit(ev KeyEvent) {
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(ev)
	}
}

// primaryInfo returns the primary's KeyInfo (false for a nil ring).
func primaryInfo(ring *crypto.Keyring) (crypto.KeyInfo, bool) {
	for _, v := range ring.Versions() {
		if v.Primary {
			return v, true
		}
	}
	return crypto.KeyInfo{}, false
}

func versionIDs(ring *crypto.Keyring) []uint32 {
	infos := ring.Versions()
	ids := make([]uint32, 0, len(infos))
	for _, v := range infos {
		ids = append(ids, v.ID)
	}
	return ids
}
