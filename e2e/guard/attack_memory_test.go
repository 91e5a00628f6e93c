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

// A multipart member part is read whole into memory (up to
// max_body_bytes) outside the buffered-bytes budget: with a 1 MiB budget a
// 2 MiB JSON body gets 503 busy, a 2 MiB member part is held and
// forwarded. Many such requests together hold N x max_body_bytes, past
// max_buffered_bytes (memory follows bytes received, not the budget).
func TestAttackR4MultipartPartOutsideBudget(t *testing.T) {
	a := newApp(t, nil)
	sc := startApp(t, a, "limits:\n  max_body_bytes: 4MiB\n  max_buffered_bytes: 1MiB\n")
	big := strings.Repeat("a", 2<<20)
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", JSON: `{"email":"` + big + `"}`})
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("a 2 MiB JSON body over a 1 MiB budget: %d %.200s", r.Status, r.Body)
	}
	body := "--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + big + "\r\n--B--\r\n"
	r = sc.Do(t, sidecartest.Req{Method: "POST", Path: "/signup", Header: map[string]string{"Content-Type": "multipart/form-data; boundary=B"}, Body: []byte(body)})
	// The part streams: the upstream request has begun when the budget
	// runs out, and its body then breaks (the app never reads a whole
	// request, nor the part); the client gets 503 busy.
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("a 2 MiB member part over a 1 MiB budget: %d %.200s (a part held outside the budget)", r.Status, r.Body)
	}
	for _, rc := range a.received() {
		if bytes.Contains(rc.Body, []byte(big[:4096])) {
			t.Errorf("the app received %d bytes holding the part: a 2 MiB member part was held outside a 1 MiB budget", len(rc.Body))
		}
	}
}
