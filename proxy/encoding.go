package proxy

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

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

// encode appends data with codings applied in order to dst. Fast levels are
// used: the proxy re-encodes on the request path and must not become the
// bottleneck.
func encode(dst *bytes.Buffer, data []byte, codings []string) error {
	for i, c := range codings {
		var out bytes.Buffer
		target := &out
		if i == len(codings)-1 {
			target = dst
		}
		var w io.WriteCloser
		switch c {
		case codingGzip:
			w, _ = gzip.NewWriterLevel(target, gzip.BestSpeed)
		case codingDeflate:
			w, _ = zlib.NewWriterLevel(target, zlib.BestSpeed)
		case codingBrotli:
			w = brotli.NewWriterLevel(target, 4)
		case codingZstd:
			w = newZstdWriter(target)
		default:
			return fmt.Errorf("encode content encoding %q: %w", c, ErrUnsupportedEncoding)
		}
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("encode %s body: %w", c, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("encode %s body: %w", c, err)
		}
		data = out.Bytes()
	}
	return nil
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
// is taken from h's budget first (nil: none), failing with ErrBusy when it
// is spent.
func readLimited(dst []byte, r io.Reader, limit, size int64, h *held) ([]byte, error) {
	if size > 0 && size <= limit {
		dst = slices.Grow(dst, int(min(size, preGrow))+1)
	}
	lr := io.LimitedReader{R: r, N: limit + 1}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		if err := h.grow(int64(cap(dst))); err != nil {
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

// preGrow is how far ahead of the bytes received readLimited grows a buffer
// for a declared length.
const preGrow = 16 << 10

// maxPooledBuffer keeps unusually large buffers out of the pool so one big
// body does not pin memory for the life of the process.
const maxPooledBuffer = 4 << 20

// bufferPool recycles body buffers.
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (bp *bufferPool) put(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bp.p.Put(b)
}

// copyBufferSize is the size of ReverseProxy's copy buffers (its own default).
const copyBufferSize = 32 << 10

// copyBufferPool is ReverseProxy's BufferPool. It pools array pointers, not
// slices, so that Put does not allocate a slice header per call.
type copyBufferPool struct{ p sync.Pool }

// Get returns a copyBufferSize buffer.
func (cp *copyBufferPool) Get() []byte {
	if b, ok := cp.p.Get().(*[copyBufferSize]byte); ok {
		return b[:]
	}
	return new([copyBufferSize]byte)[:]
}

// Put recycles a buffer that Get returned; any other slice is dropped.
func (cp *copyBufferPool) Put(b []byte) {
	if cap(b) < copyBufferSize {
		return
	}
	cp.p.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
}

// pooledBody is a transformed response body in a pooled buffer, which goes
// back to the pool on Close. The mutex makes a Close racing a Read safe,
// and reads after Close fail instead of touching a recycled buffer.
type pooledBody struct {
	mu   sync.Mutex
	pool *bufferPool
	buf  *[]byte // nil once closed
	off  int
}

func newPooledBody(pool *bufferPool, buf *[]byte) *pooledBody {
	return &pooledBody{pool: pool, buf: buf}
}

func (b *pooledBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, errors.New("read on closed body")
	}
	data := *b.buf
	if b.off >= len(data) {
		return 0, io.EOF
	}
	n := copy(p, data[b.off:])
	b.off += n
	return n, nil
}

func (b *pooledBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		b.pool.put(b.buf)
		b.buf = nil
	}
	return nil
}
