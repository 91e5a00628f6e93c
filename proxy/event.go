package proxy

import "time"

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
	Fields    []FieldStat
	KeyIDs    []uint32 // key versions used to seal or open, ascending, no duplicates
	Status    int      // status sent to the client (0 if the client went away first)
	Outcome   string   // "ok" or the error code (see errors.go)
	Reason    string   // bounded detail of a failed outcome, e.g. the auth reason "expired"; "" when none
	Latency   time.Duration
}

// FieldStat counts the fields of one class that met one fate.
type FieldStat struct {
	Class  string
	Action Action // the caller's action for the class (ActionDecrypt for writes allowed)
	Op     string // "seal", "open", "mask" or "keep" (left as it was)
	Result string // "ok", "already_sealed", "legacy", "denied", "masked_value", "error"
	Count  int
}

// stats aggregates per-field outcomes of one request; a handful of entries,
// so a slice with linear search beats a map. The request state backs both
// slices with arrays of its own (getState).
type stats struct {
	fields []FieldStat
	keys   []uint32
}

func (s *stats) add(class string, a Action, op, result string) {
	for i := range s.fields {
		f := &s.fields[i]
		if f.Class == class && f.Op == op && f.Result == result && f.Action == a {
			f.Count++
			return
		}
	}
	s.fields = append(s.fields, FieldStat{Class: class, Action: a, Op: op, Result: result, Count: 1})
}

func (s *stats) key(id uint32) {
	for i, k := range s.keys {
		if k == id {
			return
		}
		if k > id {
			s.keys = append(s.keys, 0)
			copy(s.keys[i+1:], s.keys[i:])
			s.keys[i] = id
			return
		}
	}
	s.keys = append(s.keys, id)
}
