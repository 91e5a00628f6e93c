package main

import (
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

// keyAdminEvent is the audit record of `keys SUB`: outcome admin_<sub>, reason
// "failed" when it failed, the ring's primary, revision and the versions it
// concerns. No key material.
func keyAdminEvent(sub string, info keyAudit, err error) audit.Event {
	e := audit.Event{Type: audit.TypeKey, Outcome: "admin_" + sub, Primary: info.primary, KeyIDs: info.keyIDs, Revision: info.revision}
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
