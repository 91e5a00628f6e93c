package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// ErrBroken is the category of every chain violation Verify finds.
var ErrBroken = errors.New("audit chain broken")

// Report summarises a verified (or partly verified) audit chain.
type Report struct {
	Lines    int    // lines checked before the first problem (all of them when intact)
	Files    int    // non-empty files checked (VerifyFiles); 1 for Verify
	Starts   int    // start events: one per writer start, reopen or detected truncation
	LastSeq  uint64 // seq of the last good line; compare with an external anchor to detect truncation
	LastHash string // hash of the last good line
	// FirstSeq and FirstPrev are the seq and prev of the chain's first
	// line: 0 and Genesis for a chain checked from its beginning; otherwise
	// the chain continues one that ended at seq FirstSeq-1 with hash
	// FirstPrev in a file not given (rotated away, or not passed).
	FirstSeq  uint64
	FirstPrev string
	// BrokenFile (VerifyFiles) and BrokenLine (1-based, within that file)
	// name the first problem; BrokenLine is 0 when intact.
	BrokenFile string
	BrokenLine int
	// Problem says what is wrong at BrokenLine.
	Problem string
}

// Continues reports whether the chain's first line links to lines that
// were not checked (an earlier, rotated file).
func (r Report) Continues() bool { return r.FirstPrev != "" && r.FirstPrev != Genesis }

// record is what Verify reads from a line besides the hash check.
type record struct {
	Seq    uint64 `json:"seq"`
	Prev   string `json:"prev"`
	Type   string `json:"type"`
	Reason string `json:"reason"`
	Hash   string `json:"hash"`
}

// startsFile reports whether rec may be the first line of a file that
// continues a chain from another file: a start event the writer wrote into a
// new or emptied file. A restart's start event (no reason) follows the
// file's own last line, so it never begins a file; removing the lines before
// one is detected.
func (rec record) startsFile() bool {
	return rec.Type == TypeStart && (rec.Reason == StartReopened || rec.Reason == StartTruncated || rec.Reason == StartContinued)
}

// chain checks lines in order, across one or more streams.
type chain struct {
	rep      Report
	prev     string
	next     uint64
	lastFile string // name of the previous non-empty stream, for messages
}

func (c *chain) broken(file string, line int, format string, args ...any) error {
	c.rep.BrokenFile, c.rep.BrokenLine = file, line
	c.rep.Problem = fmt.Sprintf(format, args...)
	where := fmt.Sprintf("line %d", line)
	if file != "" {
		where = fmt.Sprintf("%s line %d", file, line)
	}
	return fmt.Errorf("%w at %s: %s", ErrBroken, where, c.rep.Problem)
}

// stream checks every line of r, named file in messages ("" for one
// anonymous stream). Lines are read up to 1 MiB each.
func (c *chain) stream(file string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		rec, err := parseLine(sc.Bytes())
		if err != nil {
			return c.broken(file, n, "%v (line edited or damaged)", err)
		}
		switch {
		case c.rep.Lines == 0:
			// The chain's first line: a genesis line, or a start line
			// written into a new file that continues an earlier one.
			if rec.Prev == Genesis && rec.Seq != 0 || rec.Prev != Genesis && (rec.Seq == 0 || !rec.startsFile()) {
				return c.broken(file, n, "first line does not start a chain (earlier lines removed)")
			}
			c.rep.FirstSeq, c.rep.FirstPrev = rec.Seq, rec.Prev
		case rec.Prev != c.prev && n == 1:
			return c.broken(file, n, "prev does not match the last line of %s (a file, or lines at the end of one, removed)", c.lastFile)
		case rec.Prev != c.prev:
			return c.broken(file, n, "prev does not match the hash of line %d (a line was removed, inserted or reordered)", n-1)
		case rec.Seq != c.next:
			return c.broken(file, n, "seq %d, want %d (a line was removed, inserted or reordered)", rec.Seq, c.next)
		}
		if rec.Type == TypeStart {
			c.rep.Starts++
		}
		c.rep.Lines++
		c.rep.LastSeq, c.rep.LastHash = rec.Seq, rec.Hash
		c.prev, c.next = rec.Hash, rec.Seq+1
	}
	if err := sc.Err(); err != nil {
		return c.broken(file, n+1, "read: %v", err)
	}
	if n > 0 {
		c.rep.Files++
		c.lastFile = file
	}
	return nil
}

// Verify reads one audit stream and checks every line's hash, that each prev
// is the hash of the line before and that seq counts up by one. The first
// line is either the chain's genesis (seq 0, prev Genesis) or a start event
// the writer put at the top of a new file after a reopen, a detected
// truncation or a restart on an emptied file (Report.Continues; check the
// link with VerifyFiles and the earlier file). It stops at the first problem
// and returns a Report whose BrokenLine names it, with an error wrapping
// ErrBroken. Lines are read up to 1 MiB each.
func Verify(r io.Reader) (Report, error) {
	var c chain
	if err := c.stream("", r); err != nil {
		return c.rep, err
	}
	if c.rep.Lines == 0 {
		return c.rep, c.broken("", 1, "empty audit stream")
	}
	return c.rep, nil
}

// VerifyFiles checks one chain across files (an audit file and its rotated
// copies, in any order: they are put in chain order by the seq of their
// first lines). Empty files are skipped. Between files, the first line of
// each must link to the last line of the one before, so a removed file, or
// lines cut from the end of a file that has a successor, is reported at the
// first line of the file after the gap. Compressed files must be
// decompressed first.
func VerifyFiles(paths []string) (Report, error) {
	type file struct {
		path  string
		first uint64
	}
	var c chain
	var files []file
	for _, p := range paths {
		first, empty, err := firstSeq(p)
		if err != nil {
			return c.rep, c.broken(p, 1, "%v", err)
		}
		if !empty {
			files = append(files, file{p, first})
		}
	}
	slices.SortStableFunc(files, func(a, b file) int { return cmp.Compare(a.first, b.first) })
	for _, f := range files {
		if err := verifyFile(&c, f.path); err != nil {
			return c.rep, err
		}
	}
	if c.rep.Lines == 0 {
		return c.rep, c.broken("", 1, "empty audit stream")
	}
	return c.rep, nil
}

func verifyFile(c *chain, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return c.broken(path, 1, "open: %v", err)
	}
	defer f.Close()
	return c.stream(path, f)
}

// firstSeq returns the seq of the first line of the file at path, or
// empty for an empty file.
func firstSeq(path string) (seq uint64, empty bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, fmt.Errorf("open: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return 0, false, fmt.Errorf("read: %v", err)
		}
		return 0, true, nil
	}
	rec, err := parseLine(sc.Bytes())
	if err != nil {
		return 0, false, fmt.Errorf("%v (line edited or damaged)", err)
	}
	return rec.Seq, false, nil
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
		if r.BrokenFile != "" {
			return fmt.Sprintf("%s line %d: %s", r.BrokenFile, r.BrokenLine, r.Problem)
		}
		return fmt.Sprintf("line %d: %s", r.BrokenLine, r.Problem)
	}
	from := "from genesis"
	if r.Continues() {
		from = fmt.Sprintf("continuing seq %d hash %s (earlier file not checked)", r.FirstSeq-1, r.FirstPrev)
	}
	return fmt.Sprintf("%d events in %d file(s), %d writer starts, %s, last seq %d hash %s: ok", r.Lines, r.Files, r.Starts, from, r.LastSeq, r.LastHash)
}
