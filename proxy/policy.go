package proxy

import (
	"net/http"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/policy"
	"github.com/fieldseal/fieldseal/transform"
)

// PolicyAuthenticator is the Authenticator for configured callers: it
// verifies the bearer token with Verifier (an *auth.Verifier) and resolves
// the caller with Policy. Errors are *auth.Error values (401 with the reason
// in the message); a request without a token is anonymous only when the
// policy allows it.
type PolicyAuthenticator struct {
	Policy   *policy.Policy
	Verifier policy.Verifier
}

// Authenticate implements Authenticator.
func (a PolicyAuthenticator) Authenticate(r *http.Request) (Caller, error) {
	c, _, err := a.Policy.Authenticate(r, a.Verifier)
	if err != nil || c == nil {
		return nil, err // a nil caller is refused as unauthenticated
	}
	return c, nil
}

// AuditEvent turns a RequestEvent into the audit record of the request:
// per class the operations applied (seal for writes, the caller's action for
// reads) and the number of values, the key ids, and the outcome. The proxy's
// error code becomes the reason; outcomes are ok, unauthenticated, denied
// (forbidden, masked_value), rejected (other 4xx) or error.
func AuditEvent(e RequestEvent) audit.Event {
	ae := audit.Event{
		Type: audit.TypeRequest, RequestID: e.RequestID, Caller: e.CallerID, Route: e.Route,
		Method: e.Method, KeyIDs: e.KeyIDs, Status: e.Status, Latency: e.Latency,
	}
	for _, f := range e.Fields {
		act := f.Action.String()
		if f.Op == transform.OpSeal {
			act = transform.OpSeal
		}
		ae.AddField(f.Class, f.Count, act)
	}
	switch {
	case e.Outcome == "ok":
		ae.Outcome = audit.OutcomeOK
	case e.Outcome == "unauthenticated":
		ae.Outcome, ae.Reason = audit.OutcomeUnauthenticated, e.Outcome
		if e.Reason != "" {
			ae.Reason = e.Reason // expired, missing, bad_signature, ...
		}
	case e.Outcome == "forbidden" || e.Outcome == "masked_value":
		ae.Outcome, ae.Reason = audit.OutcomeDenied, e.Outcome
	case e.Status >= 400 && e.Status < 500:
		ae.Outcome, ae.Reason = audit.OutcomeRejected, e.Outcome
	default:
		ae.Outcome, ae.Reason = audit.OutcomeError, e.Outcome
	}
	return ae
}
