package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Genesis is the prev of the first line of a chain.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// maxRequestID bounds a request id taken from a client header.
const maxRequestID = 128

// hashMember is what precedes the hash at the end of every line.
const hashMember = `,"hash":"`

// Options configure a Writer.
type Options struct {
	// Now is the clock for the time member; default time.Now.
	Now func() time.Time
	// Registerer receives the fieldseal_audit_* metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Writer appends hash-chained events to a sink. It is safe for concurrent
// use: one mutex covers building, hashing and writing a line, so the chain
// order is the write order.
type Writer struct {
	mu     sync.Mutex
	out    io.Writer
	closer io.Closer
	file   *os.File // the audit file (Open), nil for a stream (New)
	path   string   // the audit file's path, reopened by Reopen
	size   int64    // bytes the file holds as far as this writer knows; less on disk means it was truncated
	state  *os.File // chain state beside the file (see stateFile)
	now    func() time.Time
	m      *metrics
	seq    uint64 // seq of the next line
	prev   string // hash of the last line written
	enc    zerolog.Logger
	buf    bytes.Buffer // zerolog output of the line being built
	line   []byte
	err    error // sticky: after a failed write the chain can no longer be trusted

	// newFile is set while the file may be new (empty when opened) and its
	// directory entry not yet synced (see Sync).
	newFile bool
}

// New starts a new chain on w (stdout, for instance) with a start event.
func New(w io.Writer, opts Options) (*Writer, error) {
	aw := newWriter(w, nil, opts)
	if err := aw.write(Event{Type: TypeStart}); err != nil {
		return nil, err
	}
	return aw, nil
}

// Open appends to the audit file at path (created 0600 if absent). An
// existing chain is continued from its last line, whose own hash is checked
// first: a file whose last line is damaged is refused, since continuing would
// hide the damage. An empty or absent file (rotated away while fieldseal was
// stopped) continues the chain from the chain state file beside it, so a
// restart never starts an unlinked chain; only a first start (no state)
// begins at Genesis. Verify the whole chain with Verify or VerifyFiles.
func Open(path string, opts Options) (*Writer, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	last, err := lastLine(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read last line of audit file %q: %w", path, err)
	}
	st, err := openState(path)
	if err != nil {
		f.Close()
		return nil, err
	}
	aw := newWriter(f, f, opts)
	aw.file, aw.path, aw.state = f, path, st
	aw.size, _ = f.Seek(0, io.SeekEnd)
	aw.newFile = aw.size == 0
	start := Event{Type: TypeStart}
	if last != nil {
		rec, err := parseLine(last)
		if err != nil {
			aw.closeFiles()
			return nil, fmt.Errorf("continue audit chain in %q: last line: %w", path, err)
		}
		aw.seq, aw.prev = rec.Seq+1, rec.Hash
	} else if seq, hash, ok, err := readState(st); err != nil {
		aw.closeFiles()
		return nil, fmt.Errorf("continue audit chain of %q: %w", path, err)
	} else if ok {
		aw.seq, aw.prev = seq+1, hash
		start.Reason = StartContinued
	}
	if err := aw.write(start); err != nil {
		aw.closeFiles()
		return nil, fmt.Errorf("write start event to audit file %q: %w", path, err)
	}
	return aw, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit file %q: %w", path, err)
	}
	return f, nil
}

// Reopen closes the audit file and opens its path again, for log rotation:
// after the file was renamed (logrotate's default, then SIGHUP) the chain
// goes on in a new file at path, whose first line is a start event (reason
// StartReopened) linking to the last line of the renamed one. If path still
// names the same file, the start event simply marks the reopen. On error
// the writer keeps writing to the file it had. For a stream writer (New)
// Reopen does nothing.
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return nil
	}
	if w.err != nil {
		return fmt.Errorf("reopen audit file %q: %w", w.path, w.err)
	}
	f, err := openAppend(w.path)
	if err != nil {
		return err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return fmt.Errorf("reopen audit file %q: %w", w.path, err)
	}
	old := w.file
	w.file, w.out, w.closer, w.size = f, f, f, size
	w.newFile = size == 0
	_ = old.Sync() // the renamed file is complete; its lines are already written
	_ = old.Close()
	return w.write(Event{Type: TypeStart, Reason: StartReopened})
}

func newWriter(w io.Writer, c io.Closer, opts Options) *Writer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	aw := &Writer{out: w, closer: c, now: opts.Now, m: newMetrics(opts.Registerer), prev: Genesis}
	aw.enc = zerolog.New(&aw.buf)
	return aw
}

// Write appends e to the chain. After a failed write every later Write fails
// too (the sink may hold a partial line); the operator must look at the file.
func (w *Writer) Write(e Event) error {
	if e.Type != TypeRequest && e.Type != TypeKey && e.Type != TypeAPI {
		return fmt.Errorf("write audit event: type %q is not %q, %q or %q", e.Type, TypeRequest, TypeKey, TypeAPI)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.write(e)
}

// Sync makes the lines written so far durable: it fsyncs the audit file
// and, when this writer created it or began it after a rotation, its
// directory, so that the file itself survives a crash. Callers that must
// not act before their event is on disk (a key change recorded before it
// is committed) call it after Write. For a stream writer (New) it does
// nothing; after a failed write it returns that failure.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return fmt.Errorf("sync audit file: %w", w.err)
	}
	if w.file == nil {
		return nil
	}
	if err := w.file.Sync(); err != nil {
		return fmt.Errorf("sync audit file %q: %w", w.path, err)
	}
	if w.newFile {
		d, err := os.Open(filepath.Dir(w.path))
		if err != nil {
			return fmt.Errorf("sync directory of audit file %q: %w", w.path, err)
		}
		defer d.Close()
		if err := d.Sync(); err != nil {
			return fmt.Errorf("sync directory of audit file %q: %w", w.path, err)
		}
		w.newFile = false
	}
	return nil
}

// Last returns the seq and hash of the last line written: an anchor to keep
// outside the file (truncating the file's tail is otherwise undetectable).
func (w *Writer) Last() (seq uint64, hash string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq - 1, w.prev
}

// Close syncs and closes a file opened with Open; for New it does nothing
// but stop further writes.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if errors.Is(w.err, errClosed) {
		return nil
	}
	w.err = errClosed
	if w.file == nil {
		return nil
	}
	if err := w.file.Sync(); err != nil {
		w.closeFiles()
		return fmt.Errorf("sync audit file: %w", err)
	}
	return w.closeFiles()
}

func (w *Writer) closeFiles() error {
	err := w.file.Close()
	if w.state != nil {
		_ = w.state.Close()
	}
	return err
}

var errClosed = errors.New("audit writer closed")

// write builds, hashes and writes one line. w.mu is held (or w is not shared yet).
func (w *Writer) write(e Event) error {
	if w.err != nil {
		return fmt.Errorf("write audit event: %w", w.err)
	}
	if e.Type != TypeStart && w.truncated() {
		// copytruncate emptied the file under us: the first line of what
		// is now a new file says so and links to the copy's last line.
		if err := w.write(Event{Type: TypeStart, Reason: StartTruncated}); err != nil {
			return err
		}
	}
	w.buf.Reset()
	ev := w.enc.Log().
		Uint64("seq", w.seq).
		Str("time", w.now().UTC().Format(time.RFC3339Nano)).
		Str("prev", w.prev).
		Str("type", e.Type)
	str := func(k, v string) {
		if v != "" {
			ev.Str(k, v)
		}
	}
	if len(e.RequestID) > maxRequestID { // it may come from the client's X-Request-ID
		e.RequestID = e.RequestID[:maxRequestID]
	}
	str("request_id", e.RequestID)
	str("caller", e.Caller)
	str("route", e.Route)
	str("method", e.Method)
	str("operation", e.Operation)
	if e.Type == TypeAPI {
		ev.Int("items", e.Items)
	}
	if len(e.Actions) > 0 {
		d := zerolog.Dict()
		for _, k := range sortedKeys(e.Actions) {
			d.Str(k, e.Actions[k])
		}
		ev.Dict("actions", d)
	}
	counts(ev, "fields", e.Fields)
	counts(ev, "errors", e.Errors)
	if len(e.KeyIDs) > 0 {
		ev.Uints32("key_ids", e.KeyIDs)
	}
	if e.Type == TypeKey {
		ev.Uint32("primary", e.Primary)
		if e.Lookup != 0 || e.LookupFrom != 0 {
			ev.Uint32("lookup_from", e.LookupFrom).Uint32("lookup", e.Lookup)
		}
	}
	str("revision", e.Revision)
	str("outcome", e.Outcome)
	if e.Status != 0 {
		ev.Int("status", e.Status)
	}
	if e.Latency != 0 || e.Type == TypeRequest || e.Type == TypeAPI {
		ev.Float64("latency_ms", float64(e.Latency.Microseconds())/1000)
	}
	str("reason", e.Reason)
	ev.Msg("")

	// zerolog wrote `{...}\n`; the hash covers `{...}` and is appended as
	// the last member.
	body := bytes.TrimSuffix(w.buf.Bytes(), []byte("\n"))
	if len(body) < 2 || body[len(body)-1] != '}' {
		return fmt.Errorf("write audit event: encoder produced %d unexpected bytes", len(body))
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	w.line = append(w.line[:0], body[:len(body)-1]...)
	w.line = append(w.line, hashMember...)
	w.line = append(w.line, hash...)
	w.line = append(w.line, "\"}\n"...)
	if _, err := w.out.Write(w.line); err != nil {
		w.err = err
		w.m.writeErrors.Inc()
		return fmt.Errorf("write audit event seq %d: %w", w.seq, err)
	}
	w.m.events.WithLabelValues(e.Type).Inc()
	w.m.lastSeq.Set(float64(w.seq))
	w.prev = hash
	w.size += int64(len(w.line))
	if w.state != nil {
		if err := writeState(w.state, w.seq, hash); err != nil {
			w.m.writeErrors.Inc() // the line is written; only a restart on an emptied file would miss the link
		}
	}
	w.seq++
	return nil
}

// truncated reports whether the audit file now holds fewer bytes than this
// writer wrote to it (copytruncate). w.mu is held.
func (w *Writer) truncated() bool {
	if w.file == nil {
		return false
	}
	fi, err := w.file.Stat()
	if err != nil {
		return false // the write that follows reports the problem
	}
	if fi.Size() < w.size {
		w.size = fi.Size()
		return true
	}
	w.size = fi.Size()
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lastLine returns the last complete line of f (without its newline), or
// nil for an empty file. A file not ending in a newline ends with a partial
// write and is an error.
func lastLine(f *os.File) ([]byte, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	const chunk = 4096
	var tail []byte
	for off := size; off > 0; {
		n := min(chunk, off)
		off -= n
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil {
			return nil, err
		}
		tail = append(b, tail...)
		if tail[len(tail)-1] != '\n' {
			return nil, errors.New("file does not end with a newline (partial write?)")
		}
		if i := bytes.LastIndexByte(tail[:len(tail)-1], '\n'); i >= 0 {
			return tail[i+1 : len(tail)-1], nil
		}
		if off == 0 {
			return tail[:len(tail)-1], nil
		}
	}
	return nil, nil
}

// counts adds m to ev under key as an object of counts with sorted keys (the
// chain hashes the line, so the order must not vary); an empty m adds
// nothing.
func counts(ev *zerolog.Event, key string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	d := zerolog.Dict()
	for _, k := range sortedKeys(m) {
		d.Int(k, m[k])
	}
	ev.Dict(key, d)
}
