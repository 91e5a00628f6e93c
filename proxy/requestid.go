package proxy

import "github.com/fieldseal/fieldseal/internal/requestid"

// HeaderRequestID carries the request id to the upstream and back to the client.
const HeaderRequestID = requestid.Header

// saneRequestID reports whether a client-supplied id may be reused (see
// requestid.Sane: it ends up in logs and audit events).
func saneRequestID(id string) bool { return requestid.Sane(id) }

// requestIDs hands out request ids (requestid.Generator, shared in shape
// with the API listener's).
type requestIDs struct{ g *requestid.Generator }

func newRequestIDs() *requestIDs { return &requestIDs{requestid.NewGenerator()} }

// newID returns the next id.
func (ids *requestIDs) newID() string { return ids.g.Next() }
