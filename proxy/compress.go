package proxy

import (
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
)

// Compression levels used when a transformed body is re-encoded with the
// upstream's Content-Encoding. The proxy re-encodes on the response path of
// every protected compressed response, where it talks to a client in the
// same pod or cluster, so speed wins over ratio:
//
//   - gzip and deflate use flate level 1 (BestSpeed). Go implements it with a
//     separate fast matcher whose reset is O(1), so a pooled writer costs
//     nothing to reuse, whereas levels 2-9 clear a 640 KB hash table on
//     every reset. It costs a third of level 6 on a 12 KB customer list and
//     its output is 2% larger (361 against 358 bytes for the 1 KB document).
//   - br uses quality 2: about gzip level 1's cost (1x-1.5x) with half its
//     output on lists (569 bytes for the 12 KB list, against 547 at quality
//     4, which costs 2x-3.5x more); qualities 0 and 1 compress lists worse
//     than gzip.
const (
	reencodeFlateLevel  = flate.BestSpeed
	reencodeBrotliLevel = 2
)

// codecs pools the compressors of the content codings the proxy re-encodes
// (decoder, in encoding.go, removes them). A fresh flate compressor is about
// 650 KB (and a fresh brotli one about 600 KB) allocated and zeroed per
// body: pooled and Reset, they cost only the coding itself. zstd needs no
// pool: one shared encoder serves every body (zstdEncoder). The zero value
// is ready to use and must not be copied.
type codecs struct {
	gzipW, zlibW, brotliW sync.Pool // *compressor
}

// compressor is a pooled encoder and the in-memory sink it writes to; the
// encoder is reset onto the sink for each body.
type compressor struct {
	out appendWriter
	w   interface {
		io.WriteCloser
		Reset(io.Writer)
	}
}

// appendWriter appends what it is written to b.
type appendWriter struct{ b []byte }

func (a *appendWriter) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// encode appends data with codings applied in order to dst and returns the
// extended slice.
func (c *codecs) encode(dst, data []byte, codings []string) ([]byte, error) {
	for i, coding := range codings {
		var target []byte // an intermediate coding of a chain
		if i == len(codings)-1 {
			target = dst
		}
		if coding == codingZstd {
			data = zstdEncoder().EncodeAll(data, target)
			if i == len(codings)-1 {
				dst = data
			}
			continue
		}
		comp, pool, err := c.compressor(coding)
		if err != nil {
			return dst, err
		}
		comp.out.b = target
		comp.w.Reset(&comp.out)
		_, err = comp.w.Write(data)
		if err == nil {
			err = comp.w.Close()
		}
		out := comp.out.b
		comp.out.b = nil
		pool.Put(comp)
		if err != nil {
			return dst, fmt.Errorf("encode %s body: %w", coding, err)
		}
		data = out
		if i == len(codings)-1 {
			dst = out
		}
	}
	return dst, nil
}

// compressor takes a compressor for coding from its pool, making one when
// the pool is empty.
func (c *codecs) compressor(coding string) (*compressor, *sync.Pool, error) {
	var pool *sync.Pool
	switch coding {
	case codingGzip:
		pool = &c.gzipW
	case codingDeflate:
		pool = &c.zlibW
	case codingBrotli:
		pool = &c.brotliW
	default:
		return nil, nil, fmt.Errorf("encode content encoding %q: %w", coding, ErrUnsupportedEncoding)
	}
	if comp, ok := pool.Get().(*compressor); ok {
		return comp, pool, nil
	}
	comp := &compressor{}
	switch coding {
	case codingGzip:
		comp.w, _ = gzip.NewWriterLevel(&comp.out, reencodeFlateLevel) // a valid level: no error
	case codingDeflate:
		comp.w, _ = zlib.NewWriterLevel(&comp.out, reencodeFlateLevel)
	case codingBrotli:
		comp.w = brotli.NewWriterLevel(&comp.out, reencodeBrotliLevel)
	}
	return comp, pool, nil
}
