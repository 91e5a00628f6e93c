package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestServerSentEventsAreOpenedEventByEvent(t *testing.T) {
	ring := testRing(t)
	sealed := sealFor(t, ring, "email", "", `"ada@example.com"`)
	h := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "retry: 1000\n\n")
		fmt.Fprintf(w, "event: one\ndata: {\"email\":\"%s\"}\n\n", sealed)
		// One document over two data lines, and data that is not JSON.
		fmt.Fprintf(w, "id: 2\ndata: {\"email\":\ndata: \"%s\"}\n\n", sealed)
		fmt.Fprintf(w, "data: plain text\n\n")
	}, nil)
	h.keys.p.Store(ring)
	resp, body := h.do(t, http.MethodGet, "/customers/7", nil, nil)
	want := "retry: 1000\n\n" +
		"event: one\ndata: {\"email\":\"ada@example.com\"}\n\n" +
		"id: 2\ndata: {\"email\":\ndata: \"ada@example.com\"}\n\n" +
		"data: plain text\n\n"
	if resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("status %d, body %q, want %q", resp.StatusCode, body, want)
	}
}

func TestAClientLeavingAnEndlessFeedEndsIt(t *testing.T) {
	ring := testRing(t)
	sealed := sealFor(t, ring, "email", "", `"ada@example.com"`)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		rc := http.NewResponseController(w)
		for r.Context().Err() == nil {
			if _, err := fmt.Fprintf(w, "{\"email\":\"%s\"}\n", sealed); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}, nil)
	h.keys.p.Store(ring)
	for range 3 { // the request state is reused after each
		req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/customers/7", nil)
		resp, err := h.front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "{\"email\":\"ada@example.com\"}\n" {
			t.Fatalf("first record %q: %v", line, err)
		}
		_ = resp.Body.Close()
	}
}

// An event stream's lines end at CRLF, LF or a lone CR, and its first byte
// order mark is dropped, as EventSource reads them.
func TestEventReaderEndsLinesAsEventSource(t *testing.T) {
	er := eventReader{br: bufio.NewReader(strings.NewReader("\xEF\xBB\xBFdata: a\rdata: b\r\n\r\nid: 1\n\ndata: \xEF\xBB\xBFc")), start: true}
	got := eventLines(&er)
	want := []string{"data: a", "data: b", "", "id: 1", "", "data: \xEF\xBB\xBFc"}
	if !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
}

// Lines end in the same places however the stream arrives: a byte at a
// time (a CR at the end of one read, its LF at the start of the next) or
// in reads that fill the reader's smallest buffer.
func TestEventReaderEndsLinesAcrossReads(t *testing.T) {
	stream := "\xEF\xBB\xBFdata: a\rdata: b\r\n\r\nid: 1\n\n" + strings.Repeat("x", 40) + "\r\r\n\ndata: \xEF\xBB\xBFc"
	want := []string{"data: a", "data: b", "", "id: 1", "", strings.Repeat("x", 40), "", "", "data: \xEF\xBB\xBFc"}
	for name, r := range map[string]func() io.Reader{
		"one byte a read":      func() io.Reader { return iotest.OneByteReader(strings.NewReader(stream)) },
		"half a buffer a read": func() io.Reader { return iotest.HalfReader(strings.NewReader(stream)) },
	} {
		er := eventReader{br: bufio.NewReaderSize(r(), 16), start: true}
		got := eventLines(&er)
		if !slices.Equal(got, want) {
			t.Errorf("%s: lines %q, want %q", name, got, want)
		}
	}
}

// A line is returned once its end has arrived: the first line of a stream
// that then pauses is not held back waiting for a byte order mark.
func TestEventReaderDoesNotWaitPastALine(t *testing.T) {
	r := &pausingReader{first: ":\n"}
	er := eventReader{br: bufio.NewReader(r), start: true}
	l, err := er.line(nil, 1<<10)
	if err != nil || string(l) != ":" || r.waited {
		t.Errorf("line = %q, %v; read past the first line: %v", l, err, r.waited)
	}
}

// pausingReader returns first, then records that it was read again (where
// a paused stream would block) and ends.
type pausingReader struct {
	first  string
	waited bool
}

func (r *pausingReader) Read(p []byte) (int, error) {
	if r.first != "" {
		n := copy(p, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	r.waited = true
	return 0, io.EOF
}

// eventLines reads every line of er until it ends (at most 1 KiB each).
func eventLines(er *eventReader) []string {
	var got []string
	for {
		l, err := er.line(nil, 1<<10)
		if err != nil {
			return got
		}
		got = append(got, string(l))
	}
}
