package audit

import "github.com/fieldseal/fieldseal/crypto/keycache"

// ReasonProviderError is the Reason of a key event whose refresh failed; the
// error text itself goes to the operational log, not the audit trail.
const ReasonProviderError = "provider_error"

// KeyEvent turns a key cache event (loaded, refreshed, rotation_seen, error;
// a sidecar's own rotated, rotation_due)
// into its audit record: the event kind as Outcome, the primary version, the
// versions in memory and the ring revision. It carries no key material.
func KeyEvent(k keycache.KeyEvent) Event {
	e := Event{
		Type:     TypeKey,
		Outcome:  k.Kind,
		Primary:  k.Primary,
		KeyIDs:   k.Versions,
		Revision: k.Revision,
		Latency:  k.Duration,
	}
	if k.Err != nil {
		e.Reason = ReasonProviderError
	} else {
		e.Reason = k.Reason // a rotation's reason: age or seals
	}
	return e
}
