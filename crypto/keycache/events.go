package keycache

import (
	"time"

	"github.com/fieldseal/fieldseal/crypto"
)

// Key event kinds (KeyEvent.Kind, and the "event" log field as
// "keys_"+kind).
const (
	// EventLoaded: the first key ring was loaded.
	EventLoaded = "loaded"
	// EventRefreshed: a new ring revision was loaded, same primary.
	EventRefreshed = "refreshed"
	// EventRotationSeen: a new ring was loaded with a different primary.
	EventRotationSeen = "rotation_seen"
	// EventError: a load or change check failed; the old ring is kept.
	EventError = "error"
)

// KeyEvent describes a key event for logs and the audit trail. It never
// carries key material; Err text never does either. Revision and Primary
// are the new ring's, or on EventError the ring still in service ("" and 0
// when none was ever loaded).
type KeyEvent struct {
	Kind     string
	Revision string
	Primary  uint32
	Versions []uint32 // ids of the new ring's versions; nil on EventError
	Err      error    // EventError only
	// Duration is the Source.Load's time; 0 for a failed change check.
	Duration time.Duration
	// Reason is why a Rotator event happened (ReasonAge, ReasonSeals); ""
	// for the cache's own events.
	Reason string
}

// RefreshResult is the outcome of one load or change check, the result
// label of fieldseal_keys_refresh_total.
type RefreshResult string

// Refresh results.
const (
	ResultLoaded    RefreshResult = "loaded"    // Source.Load returned a ring
	ResultUnchanged RefreshResult = "unchanged" // the Changer said the ring is current
	ResultError     RefreshResult = "error"     // the load or check failed; old ring kept
)

// Refresh reports one load or change check that ended.
type Refresh struct {
	Result RefreshResult
	// Loaded is true when a Source.Load ran (Event.Duration is its time),
	// false for a change check alone.
	Loaded bool
	// Event is the key event; its Kind is "" when nothing changed that an
	// operator or auditor needs to see (the load found the revision in
	// service, or the Changer found the ring current).
	Event KeyEvent
	// Ring is the ring in service after this refresh; nil when none was
	// ever loaded.
	Ring *crypto.Keyring
	// Failures is the number of refreshes failed in a row, this one
	// included (0 after a success).
	Failures int
	// Time is when the refresh ended, by Options.Now.
	Time time.Time
	// Refused is the crypto.ContinuityError reason when the ring read was
	// refused as no successor of the one in service (Result is then
	// ResultError); "" otherwise.
	Refused string
}

// UnknownKeyResult is the outcome of one RefreshForKey call for a key id the
// ring lacked, the result label of fieldseal_keys_unknown_key_refreshes_total.
type UnknownKeyResult string

// Unknown-key results.
const (
	UnknownKeyRefreshed    UnknownKeyResult = "refreshed"     // the key is in the ring after the refresh
	UnknownKeyRateLimited  UnknownKeyResult = "rate_limited"  // the caller gave up waiting for the next allowed on-demand refresh
	UnknownKeyStillUnknown UnknownKeyResult = "still_unknown" // refreshed (or found current), or no refresh allowed for it now; the key is not there
	UnknownKeyError        UnknownKeyResult = "error"         // the refresh failed or the caller gave up
)

// Staleness events (Staleness.Event, and the "event" log field as
// "keys_"+event).
const (
	// StaleWarning: the ring passed half of Options.MaxStale without a
	// successful refresh; it is still served. Once per spell.
	StaleWarning = "stale_warning"
	// StaleRefused: the ring passed Options.MaxStale; it is no longer served.
	StaleRefused = "stale_refused"
	// StaleRecovered: a refresh succeeded after StaleRefused; the ring is
	// served again.
	StaleRecovered = "stale_recovered"
)

// Staleness reports one check of the ring's age against Options.MaxStale.
// Checks run only with a bound set and a ring loaded: on every Run tick
// and after every successful refresh.
type Staleness struct {
	// Event is what this check changed: StaleWarning, StaleRefused,
	// StaleRecovered, or "" when nothing did.
	Event string
	// Stale is whether the ring is withheld after this check.
	Stale bool
	// Age is the time since the last successful refresh; MaxStale the bound.
	Age, MaxStale time.Duration
	// LastError is the last refresh error ("" after a success).
	LastError string
	// Time is when the check ran, by Options.Now.
	Time time.Time
}

// Observer is the hook through which the process that owns a Cache logs and
// measures it, so the cache itself depends on no logging or metrics
// library. Monitor is the Prometheus and zerolog implementation. Methods
// run on the goroutine that refreshed (a Run loop, a Refresh or
// RefreshForKey caller), possibly several at once, and must not block for
// long.
type Observer interface {
	// Refreshed is called once per load or change check, when it ends.
	Refreshed(Refresh)
	// UnknownKey is called once per RefreshForKey call for a key id the
	// ring lacked, with its outcome.
	UnknownKey(UnknownKeyResult)
	// Stale is called once per check of Options.MaxStale (never without
	// a bound).
	Stale(Staleness)
}

type nopObserver struct{}

func (nopObserver) Refreshed(Refresh)           {}
func (nopObserver) UnknownKey(UnknownKeyResult) {}
func (nopObserver) Stale(Staleness)             {}
