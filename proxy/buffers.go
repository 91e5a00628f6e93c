package proxy

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"unsafe"
)

// This file holds the buffers bodies are read into and rewritten in. A
// protected body is read whole (bounded by the limits and the
// buffered-bytes budget) and rewritten in its own buffer (rewrite.Plan.Apply
// with dst == doc[:0]), so a request in flight holds one copy of its
// document, not the three it took to read, rewrite and forward it.

// maxPooledBuffer keeps unusually large buffers out of the pool so one big
// body does not pin memory for the life of the process.
const maxPooledBuffer = 4 << 20

// minBuffer is the capacity of a new pooled buffer.
const minBuffer = 4 << 10

// maxClonedBody is the largest rewritten request body copied out of its
// pooled buffer before it is forwarded. A small body is copied so the
// buffer goes back to the pool at once; a larger one is forwarded in the
// buffer it was rewritten in, which then leaves the pool (a copy would
// double what every large request in flight holds).
const maxClonedBody = 64 << 10

// bufferPool recycles body buffers.
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, minBuffer)
	return &b
}

// put returns b to the pool, unless it grew past maxPooledBuffer or was
// handed on (a body forwarded in its buffer leaves an empty one behind).
func (bp *bufferPool) put(b *[]byte) {
	if cap(*b) == 0 || cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bp.p.Put(b)
}

// within reports whether b lies in buf's backing array (b was rewritten in
// buf, not into a buffer of its own).
func within(b, buf []byte) bool {
	if cap(b) == 0 || cap(buf) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= start && p < start+uintptr(cap(buf))
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

// forwardedBody is a large sealed request body, forwarded in the buffer it
// was sealed in. Once the transport has closed every reader of it (it
// closes a request body when it has written it, or given up on it) and the
// round trip is over (no retry can ask GetBody for another), the buffer is
// dead, and the response is read into it (reclaim) instead of a second
// buffer: a large request in flight then holds one body-sized buffer, not
// two.
type forwardedBody struct {
	mu   sync.Mutex
	buf  []byte // nil once reclaimed
	open int    // readers handed out and not yet closed
}

// newForwardedBody returns the state and the first reader of buf.
func newForwardedBody(buf []byte) (*forwardedBody, io.ReadCloser) {
	f := &forwardedBody{buf: buf}
	r, _ := f.reader()
	return f, r
}

// reader is the request's GetBody: a new reader of the whole body.
func (f *forwardedBody) reader() (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.buf == nil {
		return nil, errors.New("read a request body whose buffer was reclaimed")
	}
	f.open++
	return &forwardedReader{f: f, r: bytes.NewReader(f.buf)}, nil
}

// reclaim returns the body's buffer, emptied, when no reader of it is
// open, and nil otherwise. Only call it once the round trip is over.
func (f *forwardedBody) reclaim() *[]byte {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open > 0 || f.buf == nil {
		return nil
	}
	b := f.buf[:0]
	f.buf = nil
	return &b
}

type forwardedReader struct {
	f      *forwardedBody
	r      *bytes.Reader
	closed bool
}

func (r *forwardedReader) Read(p []byte) (int, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if r.closed {
		return 0, errors.New("read on closed body")
	}
	return r.r.Read(p)
}

func (r *forwardedReader) Close() error {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.f.open--
	}
	return nil
}
