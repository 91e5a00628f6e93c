package proxy

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/andybalholm/brotli"
)

// Content codings the proxy decodes on protected routes. "deflate" is, per
// RFC 9110, the zlib format; raw DEFLATE streams (which some clients send
// under that name) are accepted on decode and zlib is written on encode.
const (
	codingGzip    = "gzip"
	codingDeflate = "deflate"
	codingBrotli  = "br"
)

// parseCodings returns the codings of Content-Encoding header values in the
// order they were applied, lower-cased, without "identity". An unknown
// coding wraps ErrUnsupportedEncoding.
func parseCodings(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for _, c := range strings.Split(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			switch c {
			case "", "identity":
			case "x-gzip":
				out = append(out, codingGzip)
			case codingGzip, codingDeflate, codingBrotli, codingZstd:
				out = append(out, c)
			default:
				return nil, fmt.Errorf("decode content encoding %q: %w", c, ErrUnsupportedEncoding)
			}
		}
	}
	return out, nil
}

// decoder wraps r so that reading yields the body with codings removed (the
// last applied is removed first).
func decoder(r io.Reader, codings []string) (io.Reader, error) {
	for i := len(codings) - 1; i >= 0; i-- {
		switch codings[i] {
		case codingGzip:
			zr, err := gzip.NewReader(r)
			if err != nil {
				return nil, fmt.Errorf("decode gzip body: %w", err)
			}
			r = zr
		case codingDeflate:
			br := bufio.NewReader(r)
			if hdr, err := br.Peek(2); err == nil && isZlibHeader(hdr) {
				zr, err := zlib.NewReader(br)
				if err != nil {
					return nil, fmt.Errorf("decode deflate body: %w", err)
				}
				r = zr
			} else {
				r = flate.NewReader(br)
			}
		case codingBrotli:
			r = brotli.NewReader(r)
		case codingZstd:
			zr, err := newZstdReader(r)
			if err != nil {
				return nil, err
			}
			r = zr
		}
	}
	return r, nil
}

// isZlibHeader reports whether b starts a zlib stream (RFC 1950: CM=8, FCHECK).
func isZlibHeader(b []byte) bool {
	return b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

// errTooLarge is returned by readLimited; callers wrap it in the category
// that fits their direction (413 for requests, 502 for responses).
var errTooLarge = errors.New("body exceeds limit")

// readLimited appends all of r to dst, failing with errTooLarge once more
// than limit bytes arrive. It never reads more than limit+1 bytes, which
// also bounds decompression bombs. size is the expected length (a
// Content-Length; 0 or less when unknown): a small body is read without
// regrowing, but memory grows with the bytes that arrive, never with what
// the client declared (at most preGrow ahead of them). Every growth of dst
// is taken from h's budget first (nil: none), on top of what h holds beside
// the buffer (held.bufferTo), failing with ErrBusy when it is spent.
//
// The buffer doubles as bytes arrive, but never past room(size) while the
// body is within its declared size: a 1 MB body ends in a buffer of about
// 1 MB and 36 KB, not in whatever append's growth reached, and the steps
// there leave half the garbage.
func readLimited(dst []byte, r io.Reader, limit, size int64, h *held) ([]byte, error) {
	known := size > 0 && size <= limit
	if known {
		dst = slices.Grow(dst, int(min(size, preGrow))+1)
	}
	lr := io.LimitedReader{R: r, N: limit + 1}
	for {
		if len(dst) == cap(dst) {
			next := max(2*len(dst), minBuffer)
			if known && int64(len(dst)) <= size {
				next = min(next, room(int(size)))
			}
			// Not append's growth, which may overshoot the declared size.
			grown := make([]byte, len(dst), next)
			copy(grown, dst)
			dst = grown
		}
		if err := h.bufferTo(int64(cap(dst))); err != nil {
			return dst, err
		}
		n, err := lr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > limit {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// room is the capacity readLimited gives a body of declared size n: the
// body, the byte that reads its end, and room for the body to be sealed in
// place (sealed values are longer than their plaintext; a thirty-second
// more holds the few protected values of a large document, and a small one
// has minBuffer to spare). A body that outgrows it is sealed into a new
// buffer instead.
func room(n int) int { return n + 1 + n/32 + minBuffer }

// preGrow is how far ahead of the bytes received readLimited grows a buffer
// for a declared length.
const preGrow = 16 << 10
