package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/tidwall/gjson"
)

// stdDecode removes codings with fresh decoders from the standard library
// and brotli, independent of the pooled ones under test.
func stdDecode(t testing.TB, data []byte, codings ...string) []byte {
	t.Helper()
	for i := len(codings) - 1; i >= 0; i-- {
		var r io.Reader
		var err error
		switch codings[i] {
		case codingGzip:
			r, err = gzip.NewReader(bytes.NewReader(data))
		case codingDeflate:
			r, err = zlib.NewReader(bytes.NewReader(data))
		case codingBrotli:
			r = brotli.NewReader(bytes.NewReader(data))
		case codingZstd:
			d, derr := zstd.NewReader(bytes.NewReader(data))
			if derr == nil {
				defer d.Close()
			}
			r, err = d, derr
		}
		if err != nil {
			t.Fatalf("decode %s: %v", codings[i], err)
		}
		if data, err = io.ReadAll(r); err != nil {
			t.Fatalf("decode %s: %v", codings[i], err)
		}
	}
	return data
}

// stdEncode applies codings with fresh encoders at their default levels.
func stdEncode(t testing.TB, data []byte, codings ...string) []byte {
	t.Helper()
	for _, c := range codings {
		var b bytes.Buffer
		var w io.WriteCloser
		switch c {
		case codingGzip:
			w = gzip.NewWriter(&b)
		case codingDeflate:
			w = zlib.NewWriter(&b)
		case "raw-deflate":
			w, _ = flate.NewWriter(&b, flate.DefaultCompression)
		case codingBrotli:
			w = brotli.NewWriter(&b)
		case codingZstd:
			w, _ = zstd.NewWriter(&b) // default options: no error
		}
		_, _ = w.Write(data)
		_ = w.Close()
		data = b.Bytes()
	}
	return data
}

// decodeAll reads data through the proxy's decoder.
func decodeAll(t testing.TB, data []byte, codings ...string) ([]byte, error) {
	t.Helper()
	r, err := decoder(bytes.NewReader(data), codings)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestCodecs(t *testing.T) {
	docs := [][]byte{
		sidecartest.BenchDoc,
		[]byte(`{"a":1}`),
		bytes.Repeat([]byte(`{"name":"Ada Lovelace","email":"ada@example.com"},`), 2000), // ~100 KB, several flate blocks
		{},
	}
	chains := [][]string{{codingGzip}, {codingDeflate}, {codingBrotli}, {codingZstd}, {codingGzip, codingBrotli}, {codingDeflate, codingGzip}, {codingZstd, codingGzip}}
	var c codecs // one pool for every case: each body must come out whole whatever ran before it
	for _, chain := range chains {
		name := strings.Join(chain, ",")
		t.Run(name+": every body encodes to what standard decoders read back", func(t *testing.T) {
			for i, doc := range docs {
				prefix := []byte("kept:")
				out, err := c.encode(bytes.Clone(prefix), doc, chain)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(out, prefix) {
					t.Fatalf("doc %d: encode did not append to dst", i)
				}
				if got := stdDecode(t, out[len(prefix):], chain...); !bytes.Equal(got, doc) {
					t.Fatalf("doc %d: round trip differs (%d bytes, want %d)", i, len(got), len(doc))
				}
			}
		})
		t.Run(name+": every body standard encoders wrote decodes whole", func(t *testing.T) {
			for i, doc := range docs {
				got, err := decodeAll(t, stdEncode(t, doc, chain...), chain...)
				if err != nil {
					t.Fatalf("doc %d: %v", i, err)
				}
				if !bytes.Equal(got, doc) {
					t.Fatalf("doc %d: decoded %d bytes, want %d", i, len(got), len(doc))
				}
			}
		})
	}
	t.Run("raw DEFLATE under the deflate name decodes, before and after a zlib body", func(t *testing.T) {
		for _, coding := range []string{"raw-deflate", codingDeflate, "raw-deflate"} {
			got, err := decodeAll(t, stdEncode(t, sidecartest.BenchDoc, coding), codingDeflate)
			if err != nil || !bytes.Equal(got, sidecartest.BenchDoc) {
				t.Fatalf("%s: %v, %d bytes", coding, err, len(got))
			}
		}
	})
	t.Run("a corrupt body fails and the next body decodes", func(t *testing.T) {
		for _, coding := range []string{codingGzip, codingDeflate, codingBrotli, codingZstd} {
			bad := stdEncode(t, sidecartest.BenchDoc, coding)
			bad = append(bytes.Clone(bad[:len(bad)/2]), "garbage"...)
			if _, err := decodeAll(t, bad, coding); err == nil {
				t.Fatalf("%s: a corrupt body decoded", coding)
			}
			if _, err := decodeAll(t, []byte("not compressed at all"), coding); err == nil && coding != codingDeflate {
				t.Fatalf("%s: plain text decoded", coding)
			}
			got, err := decodeAll(t, stdEncode(t, sidecartest.BenchDoc, coding), coding)
			if err != nil || !bytes.Equal(got, sidecartest.BenchDoc) {
				t.Fatalf("%s after a failure: %v, %d bytes", coding, err, len(got))
			}
		}
	})
	t.Run("an unknown coding is refused both ways", func(t *testing.T) {
		if _, err := parseCodings([]string{"gzip, compress"}); !errors.Is(err, ErrUnsupportedEncoding) {
			t.Fatalf("decode err = %v", err)
		}
		if _, err := c.encode(nil, sidecartest.BenchDoc, []string{"compress"}); !errors.Is(err, ErrUnsupportedEncoding) {
			t.Fatalf("encode err = %v", err)
		}
	})
	t.Run("concurrent bodies never share a coder", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 20 {
					doc := fmt.Appendf(nil, `{"g":%d,"i":%d,"pad":%q}`, g, i, strings.Repeat("x", 100*i))
					chain := chains[(g+i)%len(chains)]
					enc, err := c.encode(nil, doc, chain)
					if err != nil {
						t.Error(err)
						return
					}
					got, err := decodeAll(t, enc, chain...)
					if err != nil || !bytes.Equal(got, doc) {
						t.Errorf("g%d i%d %v: %v, got %q", g, i, chain, err, got)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// TestCompressedBodiesThroughPooledCoders sends many compressed requests and
// responses of different content through one proxy, concurrently: each
// upstream write and each client answer must be its own document, which a
// coder shared between bodies or reset badly would break.
func TestCompressedBodiesThroughPooledCoders(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		coding := r.URL.Query().Get("coding")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", coding)
		_, _ = w.Write(stdEncode(t, body, coding)) // the sealed body, echoed compressed
	}, nil)
	codings := []string{codingGzip, codingDeflate, codingBrotli}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				coding := codings[(g+i)%len(codings)]
				email := fmt.Sprintf("user-%d-%d@example.com", g, i)
				doc := fmt.Sprintf(`{"email":%q,"name":"N%d","note":%q}`, email, i, strings.Repeat("z", 50*i))
				header := jsonHeader()
				header.Set("Content-Encoding", coding)
				header.Set("Accept-Encoding", coding)
				resp, body := h.do(t, http.MethodPost, "/customers?coding="+coding, header, bytes.NewReader(stdEncode(t, []byte(doc), coding)))
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != coding {
					t.Errorf("%s: status %d, Content-Encoding %q: %s", coding, resp.StatusCode, resp.Header.Get("Content-Encoding"), body)
					return
				}
				if got := gjson.GetBytes(stdDecode(t, body, coding), "email").Str; got != email {
					t.Errorf("%s: client got email %q, want %q", coding, got, email)
					return
				}
			}
		})
	}
	wg.Wait()
	reqs := h.up.requests()
	if len(reqs) != 40 {
		t.Fatalf("upstream saw %d requests, want 40", len(reqs))
	}
	for _, rq := range reqs {
		if rq.Header.Get("Content-Encoding") != "" || bytes.Contains(rq.Body, []byte("@example.com")) {
			t.Fatalf("upstream got an encoded or unsealed body: %q %s", rq.Header.Get("Content-Encoding"), rq.Body)
		}
		if !gjson.ValidBytes(rq.Body) {
			t.Fatalf("upstream got invalid JSON: %s", rq.Body)
		}
	}
}

// benchReencode is what a protected compressed response costs in the
// codecs: decode the upstream's body, then encode the (here unchanged)
// document again. fresh builds new coders per body, as before pooling.
func benchReencode(b *testing.B, coding string, doc []byte, fresh bool) {
	compressed := stdEncode(b, doc, coding)
	var pool bufferPool
	c := &codecs{}
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if fresh {
			c = &codecs{}
		}
		r, err := decoder(bytes.NewReader(compressed), []string{coding})
		if err != nil {
			b.Fatal(err)
		}
		in := pool.get()
		d, err := readLimited((*in)[:0], r, 1<<20, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		out := pool.get()
		enc, err := c.encode((*out)[:0], d, []string{coding})
		if err != nil {
			b.Fatal(err)
		}
		*in, *out = d, enc
		pool.put(in)
		pool.put(out)
	}
}

// BenchmarkReencode1KB is the 1 KB load document; BenchmarkReencode20KB a
// 100-element customer list.
func BenchmarkReencode1KB(b *testing.B) { benchReencodeAll(b, sidecartest.BenchDoc) }

func BenchmarkReencode20KB(b *testing.B) {
	var doc bytes.Buffer
	doc.WriteByte('[')
	for i := range 100 {
		if i > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"id":%d,"name":"Customer %d","email":"customer%d@example.com","phone":"+44 20 7946 %04d","tier":"gold","active":true}`, i, i, i, i)
	}
	doc.WriteByte(']')
	benchReencodeAll(b, doc.Bytes())
}

func benchReencodeAll(b *testing.B, doc []byte) {
	for _, coding := range []string{codingGzip, codingDeflate, codingBrotli} {
		b.Run(coding+"/pooled", func(b *testing.B) { benchReencode(b, coding, doc, false) })
		b.Run(coding+"/fresh", func(b *testing.B) { benchReencode(b, coding, doc, true) })
	}
}
