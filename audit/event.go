package audit

import (
	"slices"
	"strings"
	"time"
)

// Event types.
const (
	TypeStart   = "start"   // a writer started (first line of a chain, or a restart)
	TypeRequest = "request" // a request that touched a protected field
	TypeKey     = "key"     // key loaded, refreshed, rotation seen, provider error
	TypeAPI     = "api"     // one call to the API listener (seal, open, lookup)
)

// Request and API call outcomes. Key events use the key event kind as outcome
// (loaded, refreshed, rotation_seen, error).
const (
	OutcomeOK              = "ok"
	OutcomeDenied          = "denied"          // policy said deny, or a masked write-back was refused
	OutcomeUnauthenticated = "unauthenticated" // missing or invalid token; Reason says why
	OutcomeRejected        = "rejected"        // bad request (not JSON, too large, missing context header)
	OutcomeError           = "error"           // key, crypto or upstream failure
)

// Event is one audit record. It must never hold a field value, a token, a
// token subject or key material: every string in it is either a name from
// the configuration (caller, route, class), an id the proxy generated
// (request id), or a value from a small closed set (type, outcome, action,
// reason).
type Event struct {
	Type      string            // TypeRequest or TypeKey (TypeStart is written by the Writer)
	RequestID string            // proxy-generated or the incoming X-Request-ID
	Caller    string            // policy caller id ("anonymous" / "default" when unmatched)
	Route     string            // route name from the field map
	Method    string            // HTTP method
	Operation string            // API calls: seal, open or lookup
	Items     int               // API calls: items in the batch
	Errors    map[string]int    // API calls: item error code -> number of items that failed with it
	Actions   map[string]string // class -> action applied (seal, decrypt, mask, sealed, deny)
	Fields    map[string]int    // class -> number of values touched
	KeyIDs    []uint32          // key versions used to seal or open
	Primary   uint32            // key events: primary key version
	Revision  string            // key events: key ring revision (opaque provider token)
	Outcome   string            // Outcome* or key event kind
	Status    int               // HTTP status returned to the caller
	Latency   time.Duration     // written as latency_ms
	Reason    string            // bounded reason: auth.Reason, error category

	// Lookup and LookupFrom are, for a key event that moves the lookup
	// version (the version deterministic classes seal under), the version
	// it moves to and from; zero (and not written) for other events.
	Lookup, LookupFrom uint32
}

// AddField records that count values of class were touched with action:
// Fields adds up the counts, Actions lists each distinct action of a class
// once, comma-separated in the order first seen ("seal" then "decrypt,mask").
func (e *Event) AddField(class string, count int, action string) {
	if e.Fields == nil {
		e.Fields, e.Actions = map[string]int{}, map[string]string{}
	}
	e.Fields[class] += count
	switch prev := e.Actions[class]; {
	case prev == "":
		e.Actions[class] = action
	case !slices.Contains(strings.Split(prev, ","), action):
		e.Actions[class] = prev + "," + action
	}
}
