package rewrite

import (
	"fmt"
	"unsafe"
)

// This file rewrites a document in its own buffer (Apply with dst ==
// doc[:0]). A proxy that buffers a 1 MB body would otherwise hold it twice
// (the body and its rewritten copy) for every request in flight; in place,
// it holds the body and the replacement values, which are a few hundred
// bytes for most documents.

// inPlace reports whether dst is doc[:0]: an empty slice starting where doc
// starts.
func inPlace(dst, doc []byte) bool {
	return len(dst) == 0 && cap(dst) > 0 && len(doc) > 0 && unsafe.SliceData(dst) == unsafe.SliceData(doc)
}

// applyInPlace is Apply for dst == doc[:0]. Every replacement is asked of
// fn first, into a side buffer, while doc is still intact (so fn reads
// every raw value as it was, and an error leaves doc untouched); then the
// bytes between matches are moved to where they end up and the
// replacements are copied into the gaps. When the result does not fit in
// cap(doc) it is built in a new buffer of exactly its size instead.
func (p *Plan) applyInPlace(doc []byte, spans []span, buf *spanBuf, fn func(out []byte, i int, raw []byte) ([]byte, error)) ([]byte, error) {
	side, ends := buf.side[:0], buf.ends[:0]
	defer func() { buf.side, buf.ends = side[:0], ends[:0] }()
	total := len(doc)
	for _, sp := range spans {
		start := len(side)
		var err error
		side, err = fn(side, sp.path, doc[sp.off:sp.end:sp.end])
		if err != nil {
			return doc[:0], fmt.Errorf("rewrite value of %s: %w", p.describe(sp.path), err)
		}
		ends = append(ends, len(side))
		total += len(side) - start - (sp.end - sp.off)
	}
	rep := func(k int) []byte {
		if k == 0 {
			return side[:ends[0]]
		}
		return side[ends[k-1]:ends[k]]
	}
	if total > cap(doc) {
		out := make([]byte, 0, total)
		prev := 0
		for k, sp := range spans {
			out = append(out, doc[prev:sp.off]...)
			out = append(out, rep(k)...)
			prev = sp.end
		}
		return append(out, doc[prev:]...), nil
	}
	// Segment k is the run of bytes before span k (the last one: after
	// the last span); it moves right by d, the growth of the spans before
	// it, plus base. base is 0 (the result starts where doc starts) or,
	// for a result shorter than doc, what it shrinks by (the result ends
	// where doc ends), whichever moves fewer bytes: opening a large
	// document whose few values are near its start then moves those
	// first bytes, not the megabyte after them. Segments moving left are
	// moved front to back, then those moving right back to front: either
	// way a segment only ever overwrites bytes that were already moved or
	// were part of a span, whose value fn has already read (the final
	// positions keep the segments' order).
	n := len(spans)
	growth := func(k int) int { return len(rep(k)) - (spans[k].end - spans[k].off) }
	segment := func(k int) (start, end int) {
		if k > 0 {
			start = spans[k-1].end
		}
		end = len(doc)
		if k < n {
			end = spans[k].off
		}
		return start, end
	}
	base := 0
	if shrink := len(doc) - total; shrink > 0 {
		left, right := 0, 0 // bytes moved with base 0, and with base shrink
		for k, d := 0, 0; k <= n; k++ {
			start, end := segment(k)
			if d != 0 {
				left += end - start
			}
			if d+shrink != 0 {
				right += end - start
			}
			if k < n {
				d += growth(k)
			}
		}
		if right < left {
			base = shrink
		}
	}
	full := doc[:max(len(doc), total)]
	move := func(k, d int) {
		start, end := segment(k)
		copy(full[start+d:end+d], full[start:end])
	}
	for k, d := 0, base; k <= n; k++ {
		if d < 0 {
			move(k, d)
		}
		if k < n {
			d += growth(k)
		}
	}
	for k, d := n, base+total-len(doc); k >= 0; k-- {
		if d > 0 {
			move(k, d)
		}
		if k > 0 {
			d -= growth(k - 1)
		}
	}
	d := base
	for k, sp := range spans {
		copy(full[sp.off+d:], rep(k))
		d += growth(k)
	}
	return full[base : base+total], nil
}
