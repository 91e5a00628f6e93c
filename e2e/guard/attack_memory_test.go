package guard_test

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// A brotli stream declares its window (up to 16 MiB) in its first bytes,
// and the decoder reserves it: each brotli request body is charged that
// much of max_buffered_bytes up front, so memory follows the budget rather
// than what clients declare.
func TestBrotliRequestBodiesAreChargedTheirWindow(t *testing.T) {
	var br bytes.Buffer
	w := brotli.NewWriter(&br)
	_, _ = w.Write([]byte(`{"email":"` + alice + `"}`))
	_ = w.Close()
	req := sidecartest.Req{Method: "POST", Path: "/anything", Header: map[string]string{"Content-Type": "application/json", "Content-Encoding": "br"}, Body: br.Bytes()}

	a := newApp(t, goDecoderApp)
	sc := startApp(t, a, "limits:\n  max_buffered_bytes: 8MiB\n")
	if r := sc.Do(t, req); r.Status != http.StatusServiceUnavailable || sidecartest.ErrorCode(r.Body) != "busy" {
		t.Fatalf("a brotli body over an 8 MiB budget: %d %s", r.Status, r.Body)
	}
	if n := len(a.received()); n != 0 {
		t.Fatalf("the app received %d requests", n)
	}

	a = newApp(t, goDecoderApp)
	sc = startApp(t, a, "")
	if r := sc.Do(t, req); r.Status >= 400 {
		t.Fatalf("a brotli body under the default budget: %d %s", r.Status, r.Body)
	}
	a.mustNotHold(t, alice)
}

// PRI * HTTP/2.0 and other oddities must not reach the app as a body.
func TestProbePriorKnowledgeAndPipelining(t *testing.T) {
	a := newApp(t, goDecoderApp)
	sc := startApp(t, a, "")
	addr := strings.TrimPrefix(sc.URL, "http://")
	for _, raw := range []string{
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n{\"email\":\"" + alice + "\"}",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}POST /b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{\"email\":\"" + alice + "\"}",
		"POST /a HTTP/1.0\r\nContent-Type: application/json\r\n\r\n{\"email\":\"" + alice + "\"}",
		"POST http://other/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n{\"contact\":{\"value\":\"" + hidden + "\"}}",
		"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1d\r\n{\"email\":\"" + alice + "\"}\r\n0\r\n\r\n",
	} {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write([]byte(raw))
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			resp.Body.Close()
		}
		c.Close()
	}
	a.mustNotHold(t, alice, hidden)
}
