package proxy

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// codingZstd is the Zstandard content coding (RFC 8878, RFC 9659), which
// current browsers offer and current web servers prefer.
const codingZstd = "zstd"

// zstdMaxWindow is the largest window a zstd body may declare: RFC 9659
// section 3 caps it at 8 MB for HTTP, so larger ones are refused rather
// than allocated. Like brotli's, the window is what the sender declares,
// not what it sends, so a zstd request body is charged this much of the
// buffered-bytes budget up front (requestDecoder).
const zstdMaxWindow = 8 << 20

// zstdEncoder is one encoder for every response: EncodeAll is safe for
// concurrent use and keeps its own small set of block encoders, so no
// response allocates an encoder's tables. It holds no request data
// between calls.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(1<<20), // well under RFC 9659's 8 MB
		zstd.WithEncoderConcurrency(2),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic("zstd encoder options: " + err.Error()) // constant options
	}
	return e
})

// newZstdReader decodes a zstd stream synchronously (no goroutines), its
// window bounded by zstdMaxWindow; the decoder is released at the end of
// the stream or on the first error.
func newZstdReader(r io.Reader) (io.Reader, error) {
	d, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(zstdMaxWindow))
	if err != nil {
		return nil, fmt.Errorf("decode zstd body: %w", err)
	}
	return &zstdReader{d: d}, nil
}

type zstdReader struct{ d *zstd.Decoder }

func (z *zstdReader) Read(p []byte) (int, error) {
	if z.d == nil {
		return 0, io.EOF
	}
	n, err := z.d.Read(p)
	if err != nil {
		z.d.Close()
		z.d = nil
		if err != io.EOF {
			return n, fmt.Errorf("decode zstd body: %w", err)
		}
	}
	return n, err
}
