// Package audit writes fieldseal's audit trail: one JSON line per request
// that touched a protected field, per call to the API listener (type "api":
// operation, item count, item errors by code) and per key event,
// hash-chained so that an edited, removed, inserted or reordered line is
// detectable by Verify.
//
// Every line is a JSON object whose first members are
//
//	{"seq":N,"time":"RFC3339Nano","prev":"<hex>",...event fields...,"hash":"<hex>"}
//
// where hash is the hex SHA-256 of the line's bytes with the final
// `,"hash":"…"` member removed (so `{...event fields...}`), and prev is the
// hash of the line before it. The first line of a chain is a "start" event
// with seq 0 and prev = Genesis. A Writer opened on an existing file reads its
// last line, checks that line's own hash, and continues the chain from it
// (writing a "start" event that links to it), so restarts do not break the chain.
//
// The chain runs across files: Reopen (on SIGHUP, after a rename by log
// rotation), a writer that finds its file truncated under it (copytruncate)
// and Open on an empty file (continuing from the chain state file beside it)
// each begin the new file with a start event whose reason says so and whose
// prev is the last hash written before. VerifyFiles checks such a set of
// files as one chain, in the order of their first seq, so a removed file is
// a break; Verify accepts a single file that begins with such a line and
// reports where it continues from (Report.Continues).
//
// Each line is written with one Write call (one write(2) on a file opened
// O_APPEND); the file is synced on Close and on Sync, not per line, so a
// host crash can lose the last lines, which then look like tail truncation.
// A caller whose event must be durable before it acts (a key command
// records its change before committing it) calls Sync after Write.
//
// Lines never carry a field value, token or key: only classes, counts, key
// ids, caller ids from the configuration, route names and outcomes.
//
// Limits: the chain proves the order and integrity of what is in the file, not
// that nothing was cut from its end. Truncating the tail (or deleting the whole
// file) is only detectable against an external anchor: the last seq and hash
// exported by the writer (metric fieldseal_audit_last_seq, Writer.Last) and
// compared with Report.LastSeq / Report.LastHash. The chain is also not a
// signature: someone who can rewrite the whole file can recompute every hash.
package audit
