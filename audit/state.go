package audit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

// Reasons of start events (Event.Reason of TypeStart lines). A start line
// with one of these may be the first line of a file whose prev is not
// Genesis: the chain goes on from another (rotated) file. A start line
// without a reason is a restart appending to a file and always follows that
// file's own last line.
const (
	StartReopened  = "reopened"  // Reopen (SIGHUP): the file at the path was opened again, usually a new one after a rename
	StartTruncated = "truncated" // the writer found its file shorter than it wrote (copytruncate)
	StartContinued = "continued" // Open found an empty or absent file and continued the chain from the state file
)

// The chain state file keeps the seq and hash of the last line written, so
// that a writer started on an empty audit file (the old one rotated away
// while fieldseal was stopped) links its first line to the old file's last
// one. It lives beside the audit file as a hidden file, ".<name>.chain", so
// that globs over rotated audit files (audit.log*) do not pick it up. It is
// rewritten in place after every line (one pwrite of a fixed-width record,
// no fsync: after a host crash it may lag the file, and a restart on an
// emptied file then shows as a break, never as a silent gap).
func stateFile(auditPath string) string {
	return filepath.Join(filepath.Dir(auditPath), "."+filepath.Base(auditPath)+".chain")
}

// stateRecord is "<seq, 20 digits> <hash, 64 hex>\n": fixed width, so a
// rewrite in place never leaves a longer old record's tail behind.
var stateRecord = regexp.MustCompile(`^([0-9]{20}) ([0-9a-f]{64})\n$`)

func openState(auditPath string) (*os.File, error) {
	p := stateFile(auditPath)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit chain state %q: %w", p, err)
	}
	return f, nil
}

// readState returns the last seq and hash recorded, ok false for a new
// (empty) state file.
func readState(f *os.File) (seq uint64, hash string, ok bool, err error) {
	b := make([]byte, 128)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, "", false, fmt.Errorf("read audit chain state %q: %w", f.Name(), err)
	}
	if n == 0 {
		return 0, "", false, nil
	}
	m := stateRecord.FindSubmatch(b[:n])
	if m == nil {
		return 0, "", false, fmt.Errorf("audit chain state %q is damaged (remove it to start a new, unlinked chain)", f.Name())
	}
	seq, err = strconv.ParseUint(string(m[1]), 10, 64)
	if err != nil {
		return 0, "", false, fmt.Errorf("audit chain state %q is damaged: %w", f.Name(), err)
	}
	return seq, string(m[2]), true, nil
}

func writeState(f *os.File, seq uint64, hash string) error {
	_, err := fmt.Fprintf(io.NewOffsetWriter(f, 0), "%020d %s\n", seq, hash)
	return err
}
