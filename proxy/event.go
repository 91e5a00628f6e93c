package proxy

import (
	"time"

	"github.com/fieldseal/fieldseal/transform"
)

// RequestEvent describes one request to a protected route, once it is done.
// It carries no field value and no key material; it is what the audit log
// records. Observer hooks receive it synchronously on the request goroutine,
// so they must be quick; the event's slices are not reused and may be kept.
type RequestEvent struct {
	Time      time.Time // when the request arrived
	RequestID string
	Route     string // configured route name
	Method    string
	CallerID  string // Caller.ID, "anonymous" without an Authenticator, "" if authentication failed
	Fields    []transform.FieldStat
	KeyIDs    []uint32 // key versions used to seal or open, ascending, no duplicates
	Status    int      // status sent to the client (0 if the client went away first)
	Outcome   string   // "ok" or the error code (see errors.go)
	Reason    string   // bounded detail of a failed outcome, e.g. the auth reason "expired"; "" when none
	Latency   time.Duration
}
