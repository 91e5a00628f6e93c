package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/awskeys"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
)

// CallerCLI is the caller of audit events written by command-line runs.
const CallerCLI = "cli"

// cliTrail is the audit trail of one command-line run: the config's audit
// sink, in the same hash-chained format as the sidecar's. A stdout sink goes
// to stderr instead, since stdout carries the command's own output. A nil
// *cliTrail (no audit section) records nothing.
type cliTrail struct {
	w     *audit.Writer
	start time.Time
}

// openCLITrail opens the trail before the command acts, so that a broken
// audit file stops a key operation instead of letting it go unrecorded.
func openCLITrail(c *audit.Config, stderr io.Writer) (*cliTrail, error) {
	if c == nil {
		return nil, nil
	}
	var w *audit.Writer
	var err error
	if c.Sink == audit.SinkFile {
		w, err = audit.Open(c.File, audit.Options{})
	} else {
		w, err = audit.New(stderr, audit.Options{})
	}
	if err != nil {
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	return &cliTrail{w: w, start: time.Now()}, nil
}

// record writes e (latency since the trail opened) and closes the trail. opErr
// is the command's own result, returned joined with any audit failure.
func (t *cliTrail) record(e audit.Event, opErr error) error {
	if t == nil {
		return opErr
	}
	e.Caller = CallerCLI
	e.Latency = time.Since(t.start)
	werr := t.w.Write(e)
	if cerr := t.w.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		werr = fmt.Errorf("audit event lost: %w", werr)
	}
	return errors.Join(opErr, werr)
}

// writeDurable writes e (latency since the trail opened) and syncs the
// file: when it returns nil, e survives a crash.
func (t *cliTrail) writeDurable(e audit.Event) error {
	e.Caller = CallerCLI
	e.Latency = time.Since(t.start)
	if err := t.w.Write(e); err != nil {
		return err
	}
	return t.w.Sync()
}

// keyChange makes a key command that changes the ring audited and fail
// closed: the providers call its hooks (localkeys.BeforeWrite,
// awskeys.Options.BeforeWrite) with the ring about to be written, and it
// writes the command's event for that ring and syncs the trail before the
// write happens; when the event cannot be written the hook fails and the
// provider writes nothing. So the trail holds the event of every change
// made, written before it. A change that then fails to commit gets a
// second event, reason "failed" (best effort: the process may die first,
// so an event whose revision never became the ring's records an attempt).
// A nil trail (no audit section) records nothing and aborts nothing.
type keyChange struct {
	trail  *cliTrail
	sub    string
	target uint32 // the version the command names (0: the whole ring)
	// intent is the event written before the last write attempt, nil while
	// none was; committed is set when the provider reported success.
	intent    *keyAudit
	committed bool
}

// before writes the event of the change to the ring next and syncs it;
// an error aborts the change. fromLookup and toLookup are the ring's lookup
// version before and after, which the rotate-lookup event names.
func (c *keyChange) before(next keyAudit, fromLookup, toLookup uint32) error {
	if c.sub == "rotate-lookup" {
		next.lookupFrom, next.lookup = fromLookup, toLookup
	}
	if c.trail == nil {
		return nil
	}
	if err := c.trail.writeDurable(keyAdminEvent(c.sub, next, nil)); err != nil {
		return fmt.Errorf("record the change in the audit trail before making it: %w", err)
	}
	c.intent = &next
	return nil
}

// local is the hook for the local provider.
func (c *keyChange) local() localkeys.BeforeWrite {
	return func(prev, next *localkeys.Status) error {
		var from uint32
		if prev != nil {
			from = prev.Lookup
		}
		return c.before(localAudit(next, c.target), from, next.Lookup)
	}
}

// aws is the hook for the aws provider (awskeys.Options.BeforeWrite).
func (c *keyChange) aws(_ context.Context, prev, next *awskeys.Status) error {
	var from uint32
	if prev != nil {
		from = prev.Lookup
	}
	return c.before(awsAudit(next, c.target), from, next.Lookup)
}

// done records the provider's result: err nil means the change (if any)
// is committed.
func (c *keyChange) done(err error) { c.committed = err == nil }

// finish ends the command's audit: a committed change has its event
// already; a change whose event was written but which failed gets a second
// event with the failure; a command that wrote nothing (verify, backup, a
// rotation not due, a failure before the write) gets its one event now,
// info and err saying how it ended. It closes the trail and returns err
// joined with any audit failure.
func (t *cliTrail) finish(c *keyChange, info keyAudit, err error) error {
	if t == nil {
		return err
	}
	switch {
	case c.intent != nil && c.committed:
		if cerr := t.w.Close(); cerr != nil {
			return errors.Join(err, fmt.Errorf("audit trail: %w", cerr))
		}
		return err
	case c.intent != nil:
		return t.record(keyAdminEvent(c.sub, *c.intent, errCommitFailed), err)
	default:
		return t.record(keyAdminEvent(c.sub, info, err), err)
	}
}

// errCommitFailed marks the second event of a change that failed after its
// event was written.
var errCommitFailed = errors.New("commit failed")

// keyAdminEvent is the audit record of `keys SUB`: outcome admin_<sub>, reason
// "failed" when it failed, the ring's primary, revision and the versions it
// concerns, and for rotate-lookup the lookup version moved from and to. No
// key material.
func keyAdminEvent(sub string, info keyAudit, err error) audit.Event {
	e := audit.Event{Type: audit.TypeKey, Outcome: "admin_" + sub, Primary: info.primary, KeyIDs: info.keyIDs, Revision: info.revision,
		Lookup: info.lookup, LookupFrom: info.lookupFrom}
	if err != nil {
		e.Reason = "failed"
	} else {
		e.Reason = info.reason
	}
	return e
}

// keyAudit is what a key command learned about the ring for its audit event.
type keyAudit struct {
	primary  uint32
	keyIDs   []uint32
	revision string
	// reason is the event's Reason when the command succeeded ("" or
	// reasonNotDue).
	reason string
	// lookup and lookupFrom: rotate-lookup's move of the lookup version.
	lookup, lookupFrom uint32
}

// localAudit is the audit of a local key command that targeted version
// target (0: the whole ring) and left the ring st (nil when it failed).
func localAudit(st *localkeys.Status, target uint32) keyAudit {
	if st == nil {
		return keyAudit{keyIDs: nonZero(target)}
	}
	return ringAudit(st.Primary, st.Revision, infoIDs(st.Keys), target)
}

// awsAudit is localAudit for the aws ring; its revision is the secret
// version id.
func awsAudit(st *awskeys.Status, target uint32) keyAudit {
	if st == nil {
		return keyAudit{keyIDs: nonZero(target)}
	}
	var ids []uint32
	for _, v := range st.Versions {
		ids = append(ids, v.ID)
	}
	return ringAudit(st.Primary, st.VersionID, ids, target)
}

// ringAudit names the target version, or every version of the ring when
// target is 0.
func ringAudit(primary uint32, revision string, versions []uint32, target uint32) keyAudit {
	a := keyAudit{primary: primary, revision: revision, keyIDs: nonZero(target)}
	if target == 0 {
		a.keyIDs = versions
	}
	return a
}

func infoIDs(keys []crypto.KeyInfo) []uint32 {
	var ids []uint32
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func nonZero(id uint32) []uint32 {
	if id == 0 {
		return nil
	}
	return []uint32{id}
}
