package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrBroken is the category of every chain violation Verify finds.
var ErrBroken = errors.New("audit chain broken")

// Report summarises a verified (or partly verified) audit stream.
type Report struct {
	Lines    int    // lines checked before the first problem (all of them when intact)
	Starts   int    // start events: one per writer start (restarts and appends)
	LastSeq  uint64 // seq of the last good line; compare with an external anchor to detect truncation
	LastHash string // hash of the last good line
	// BrokenLine is the 1-based line number of the first problem, 0 when intact.
	BrokenLine int
	// Problem says what is wrong at BrokenLine.
	Problem string
}

// record is what Verify reads from a line besides the hash check.
type record struct {
	Seq  uint64 `json:"seq"`
	Prev string `json:"prev"`
	Type string `json:"type"`
	Hash string `json:"hash"`
}

// Verify reads an audit stream and checks every line's hash, that each prev
// is the hash of the line before (the first line's is Genesis) and that seq
// counts up by one. It stops at the first problem and returns a Report whose
// BrokenLine names it, with an error wrapping ErrBroken. Lines are read up to
// 1 MiB each.
func Verify(r io.Reader) (Report, error) {
	var rep Report
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	broken := func(line int, format string, args ...any) (Report, error) {
		rep.BrokenLine = line
		rep.Problem = fmt.Sprintf(format, args...)
		return rep, fmt.Errorf("%w at line %d: %s", ErrBroken, line, rep.Problem)
	}
	prev, next := Genesis, uint64(0)
	n := 0
	for sc.Scan() {
		n++
		rec, err := parseLine(sc.Bytes())
		if err != nil {
			return broken(n, "%v (line edited or damaged)", err)
		}
		if rec.Prev != prev {
			if n == 1 {
				return broken(n, "first line does not start a chain (earlier lines removed)")
			}
			return broken(n, "prev does not match the hash of line %d (a line was removed, inserted or reordered)", n-1)
		}
		if rec.Seq != next {
			return broken(n, "seq %d, want %d (a line was removed, inserted or reordered)", rec.Seq, next)
		}
		if rec.Type == TypeStart {
			rep.Starts++
		}
		rep.Lines, rep.LastSeq, rep.LastHash = n, rec.Seq, rec.Hash
		prev, next = rec.Hash, rec.Seq+1
	}
	if err := sc.Err(); err != nil {
		return broken(n+1, "read: %v", err)
	}
	if n == 0 {
		return broken(1, "empty audit stream")
	}
	return rep, nil
}

// parseLine checks a line's own hash and returns its chain members.
func parseLine(line []byte) (record, error) {
	var rec record
	const hexLen = sha256.Size * 2
	suffixLen := len(hashMember) + hexLen + len(`"}`)
	if len(line) < suffixLen+1 || !bytes.HasSuffix(line, []byte(`"}`)) ||
		!bytes.Equal(line[len(line)-suffixLen:len(line)-suffixLen+len(hashMember)], []byte(hashMember)) {
		return rec, errors.New("no hash member at the end of the line")
	}
	want := line[len(line)-hexLen-2 : len(line)-2]
	body := make([]byte, 0, len(line)-suffixLen+1)
	body = append(body, line[:len(line)-suffixLen]...)
	body = append(body, '}')
	sum := sha256.Sum256(body)
	var got [hexLen]byte
	hex.Encode(got[:], sum[:])
	if !bytes.Equal(got[:], want) {
		return rec, errors.New("hash does not match the line's content")
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return rec, fmt.Errorf("not a JSON object: %v", err)
	}
	if rec.Hash != string(want) {
		return rec, errors.New("duplicate hash member")
	}
	return rec, nil
}

// CheckAnchor compares the report with an anchor kept outside the file (the
// writer's Last, or the fieldseal_audit_last_seq metric): a stream that ends
// before seq was truncated, and one whose line seq has another hash was
// rewritten.
func (r Report) CheckAnchor(seq uint64, hash string) error {
	switch {
	case r.Lines == 0 || r.LastSeq < seq:
		return fmt.Errorf("%w: stream ends at seq %d, before the anchored seq %d (tail truncated)", ErrBroken, r.LastSeq, seq)
	case r.LastSeq == seq && hash != "" && r.LastHash != hash:
		return fmt.Errorf("%w: seq %d has another hash than the anchor (stream rewritten)", ErrBroken, seq)
	}
	return nil
}

// String summarises the report in one line, as `fieldseal audit verify` prints it.
func (r Report) String() string {
	if r.BrokenLine != 0 {
		return fmt.Sprintf("line %d: %s", r.BrokenLine, r.Problem)
	}
	return fmt.Sprintf("%d events, %d writer starts, last seq %d hash %s: ok", r.Lines, r.Starts, r.LastSeq, r.LastHash)
}
