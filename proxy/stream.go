package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/fieldseal/fieldseal/fieldmap"
)

// Feeds and streams: a response that is a sequence of JSON documents
// (newline-delimited JSON, server-sent events) never ends for a continuous
// feed, so it cannot be read whole. It is transformed record by record as
// it arrives, each record forwarded (and flushed) once transformed, with no
// body-time limit; each record is bounded by MaxResponseBytes.

type streamKind uint8

const (
	streamNone   streamKind = iota
	streamNDJSON            // one JSON document per line
	streamSSE               // text/event-stream: each event's data is one document
)

// ndjsonTypes are the media types of newline-delimited JSON in use.
var ndjsonTypes = []string{"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines"}

// responseStream says whether a 2xx response of Content-Type ct on route is
// a stream: server-sent events and NDJSON by their type, and a JSON
// response on a route with stream: ndjson (change feeds such as CouchDB's
// feed=continuous are served as application/json, one change per line).
func responseStream(route *fieldmap.Route, ct string) streamKind {
	// A client takes any of a list's types ("text/plain, text/event-stream":
	// browsers the last valid one): any that names a stream makes it one.
	for part := range strings.SplitSeq(ct, ",") {
		mt, _, _ := parseMediaType(strings.TrimSpace(part))
		switch {
		case mt == "text/event-stream":
			return streamSSE
		case slices.Contains(ndjsonTypes, mt):
			return streamNDJSON
		}
	}
	if route.Stream == fieldmap.StreamNDJSON {
		if open, sniff := responseKind(route, ct); open && !sniff {
			return streamNDJSON
		}
	}
	return streamNone
}

// errStreamRecord ends a stream whose record cannot be transformed: the
// status is already sent, so the client gets a cut stream (fail closed),
// never the record as it came.
var errStreamRecord = errors.New("stream record cannot be transformed")

// streamResponse replaces resp.Body with the stream transformed record by
// record by a goroutine that ServeHTTP waits for (rs.respDone) once the
// ReverseProxy, having copied the body, closed it.
func (p *Proxy) streamResponse(resp *http.Response, rs *reqState, kind streamKind) error {
	codings, err := parseCodings(resp.Header.Values("Content-Encoding"))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadUpstreamResponse, err)
	}
	body, err := decodeBody(resp.Body, codings)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadUpstreamResponse, err)
	}
	upstream := resp.Body
	pr, pw := io.Pipe()
	resp.Body = readCloser{pr, closeBoth{pr, upstream}}
	resp.ContentLength = -1 // ReverseProxy flushes every write of such a body
	resp.TransferEncoding = nil
	for _, h := range append([]string{"Content-Length", "Content-Encoding"}, bodyDigestHeaders...) {
		resp.Header.Del(h)
	}
	weakenETag(resp.Header)
	var t opener = rs.resp
	if len(rs.respAlso) > 0 {
		t = append(openChain{rs.resp}, rs.respAlso...)
	}
	id, route := rs.id, rs.route.Name
	done := make(chan struct{})
	rs.respDone = done
	go func() {
		defer close(done)
		var err error
		if kind == streamSSE {
			err = p.copySSE(pw, body, t)
		} else {
			err = p.copyNDJSON(pw, body, t)
		}
		if err != nil && !errors.Is(err, io.ErrClosedPipe) {
			p.log.Warn().Str("request_id", id).Str("route", route).Err(err).Msg("response stream cut")
		}
		_ = pw.CloseWithError(err)
	}()
	return nil
}

type closeBoth struct{ a, b io.Closer }

func (c closeBoth) Close() error {
	_ = c.a.Close()
	return c.b.Close()
}

// readLine returns the next line of br without its line ending, at most
// limit bytes; io.EOF when the stream ended (a last line without an ending
// is returned first).
func readLine(br *bufio.Reader, buf []byte, limit int64) ([]byte, error) {
	buf = buf[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: a record is larger than %d bytes", errStreamRecord, limit)
		}
		switch {
		case err == nil:
			buf = bytes.TrimSuffix(buf[:len(buf)-1], []byte{'\r'})
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return buf, nil
		default:
			return nil, err
		}
	}
}

// copyNDJSON transforms one document per line; blank lines (heartbeats)
// pass as they are. A line that is not JSON ends the stream.
func (p *Proxy) copyNDJSON(w io.Writer, r io.Reader, t opener) error {
	br := bufio.NewReaderSize(r, 32<<10)
	var line, out []byte
	for {
		l, err := readLine(br, line, p.maxResp)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		line = l[:0]
		out = out[:0]
		if len(bytes.TrimSpace(l)) > 0 {
			if out, err = t.Open(out, l); err != nil {
				return fmt.Errorf("%w: %w", errStreamRecord, err)
			}
		}
		out = append(out, '\n')
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
}

// copySSE transforms server-sent events (HTML Living Standard, section
// 9.2): an event's data lines, joined by newlines, are one document when
// they are JSON, opened and written back as data lines; other fields
// (event, id, retry, comments) pass in their place. Data that is not JSON
// passes as it is, as a response that is not JSON does.
func (p *Proxy) copySSE(w io.Writer, r io.Reader, t opener) error {
	er := eventReader{br: bufio.NewReaderSize(r, 32<<10), start: true}
	var (
		line, data, out []byte
		event           [][]byte // the event's lines; nil marks where its data goes
		hasData         bool
		size            int64 // bytes of the event so far
	)
	flush := func() error {
		out = out[:0]
		for _, l := range event {
			if l != nil {
				out = append(append(out, l...), '\n')
				continue
			}
			doc := bytes.TrimLeftFunc(data, sniffSpace) // what lenient parsers skip
			var opened []byte
			if len(doc) > 0 && (doc[0] == '{' || doc[0] == '[') {
				var err error
				if opened, err = t.Open(nil, data); err != nil {
					return fmt.Errorf("%w: %w", errStreamRecord, err)
				}
			} else {
				opened = data
			}
			for dl := range bytes.SplitSeq(opened, []byte{'\n'}) {
				out = append(append(append(out, "data: "...), dl...), '\n')
			}
		}
		out = append(out, '\n')
		event, data, hasData, size = event[:0], data[:0], false, 0
		_, err := w.Write(out)
		return err
	}
	for {
		l, err := er.line(line, p.maxResp)
		if errors.Is(err, io.EOF) {
			if len(event) > 0 {
				return flush()
			}
			return nil
		}
		if err != nil {
			return err
		}
		line = l[:0]
		if size += int64(len(l)) + 1; size > p.maxResp {
			return fmt.Errorf("%w: an event is larger than %d bytes", errStreamRecord, p.maxResp)
		}
		if len(l) == 0 {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if v, ok := bytes.CutPrefix(l, []byte("data")); ok && (len(v) == 0 || v[0] == ':') {
			v = bytes.TrimPrefix(bytes.TrimPrefix(v, []byte(":")), []byte(" "))
			if hasData {
				data = append(data, '\n')
			} else {
				event = append(event, nil)
			}
			data = append(data, v...)
			hasData = true
			continue
		}
		event = append(event, bytes.Clone(l))
	}
}

// eventReader reads the lines of an event stream as EventSource does (HTML
// Living Standard, section 9.2.6): a line ends at CRLF, LF or a lone CR,
// and one U+FEFF BYTE ORDER MARK at the stream's start is dropped. A line
// is returned as soon as its end has arrived: one ended by CR at once (an
// LF that follows it is skipped with the next line), and the mark is only
// waited for when the stream's first byte starts one, so a stream that
// pauses after a short first line or after a CR is not held up.
type eventReader struct {
	br    *bufio.Reader
	start bool // the stream's first line is next
	cr    bool // the last line ended with CR
}

// line returns the next line without its end, at most limit bytes, in buf's
// array; io.EOF when the stream ended (a last line without an end is
// returned first).
func (e *eventReader) line(buf []byte, limit int64) ([]byte, error) {
	buf = buf[:0]
	if e.start {
		e.start = false
		if b, _ := e.br.Peek(1); len(b) == 1 && b[0] == utf8BOM[0] {
			if b, _ := e.br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
				_, _ = e.br.Discard(len(utf8BOM))
			}
		}
	}
	for {
		// Peek(1) reads once when nothing is buffered; then every byte
		// buffered is scanned at once, not byte by byte.
		if _, err := e.br.Peek(1); err != nil {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				return buf, nil
			}
			return nil, err
		}
		chunk, _ := e.br.Peek(e.br.Buffered())
		if e.cr {
			e.cr = false
			if chunk[0] == '\n' {
				_, _ = e.br.Discard(1) // the LF of a CRLF whose CR ended the last line
				continue
			}
		}
		end := bytes.IndexAny(chunk, "\r\n")
		if end < 0 {
			end = len(chunk)
		}
		if buf = append(buf, chunk[:end]...); int64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: a record is larger than %d bytes", errStreamRecord, limit)
		}
		if end == len(chunk) {
			_, _ = e.br.Discard(end)
			continue
		}
		e.cr = chunk[end] == '\r'
		_, _ = e.br.Discard(end + 1)
		return buf, nil
	}
}
