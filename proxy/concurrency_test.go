package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/tidwall/gjson"
)

// TestConcurrentRequestsWhileReloading runs writes and reads in parallel
// while the field map and key ring are swapped underneath (run with -race).
func TestConcurrentRequestsWhileReloading(t *testing.T) {
	h := newHarness(t, nil, nil)
	m := testMap(t)
	stop := make(chan struct{})
	var swaps sync.WaitGroup
	swaps.Add(1)
	go func() {
		defer swaps.Done()
		for {
			select {
			case <-stop:
				return
			default:
				h.proxy.SetMap(m)
				h.keys.p.Store(h.ring)
			}
		}
	}()
	concurrently(t, 8, 25, func(_, _ int) error {
		resp, body, err := h.send(http.MethodPost, "/customers", jsonHeader(), strings.NewReader(customer))
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || gjson.GetBytes(body, "email").Str != "ada@example.com" {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	})
	close(stop)
	swaps.Wait()
	for _, r := range h.up.requests() {
		if containsAny(r.Body, "ada@example.com") {
			t.Fatalf("plaintext reached the upstream: %s", r.Body)
		}
	}
}

// BenchmarkProxyRoundTrip is one write and its echoed response through real
// loopback sockets (client -> proxy -> upstream): "protected" seals 5 fields
// and opens them again, "unmatched" is the pass-through baseline.
func BenchmarkProxyRoundTrip(b *testing.B) {
	h := newHarness(b, nil, nil)
	client := h.front.Client()
	for _, path := range []string{"/bench", "/unmatched"} {
		b.Run(strings.TrimPrefix(path, "/"), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 4096)
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodPost, h.front.URL+path, strings.NewReader(string(sidecartest.BenchDoc)))
				req.Header.Set("Content-Type", "application/json")
				drainOK(b, client, req, buf)
			}
		})
	}
}

// TestPooledBuffersDoNotCrossRequests attacks the buffers this round made
// shared (round 3, adversary 2): small and large bodies (either side of the
// 64 KB forwarded-in-place bound, shrinking and growing in place), sealed
// concurrently and echoed back to be opened in the buffer the request was
// forwarded in. Every request carries its own marker: the upstream must see
// only its own, sealed, and the client must get its own document back
// exactly. Run with -race.
func TestPooledBuffersDoNotCrossRequests(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) {
		o.MaxBodyBytes = 1 << 20
		o.MaxResponseBytes = 1 << 20
	})
	sizes := []int{10, 3 << 10, 63 << 10, 64<<10 - 200, 64<<10 + 10, 65 << 10, 200 << 10}
	concurrently(t, 6, 14, func(g, i int) error {
		marker := fmt.Sprintf("m%02d%03dz", g, i)
		pad := strings.Repeat(marker, sizes[(g+i)%len(sizes)]/len(marker)+1)
		doc := `{"id":"` + marker + `","pad":"` + pad + `","email":"` + marker + `@example.com","phone":"+1-` + marker +
			`","address":{"street":"` + marker + ` street","city":"` + marker + `"},"tail":"` + marker + `"}`
		resp, body, err := h.send(http.MethodPost, "/customers", markedJSON(marker), strings.NewReader(doc))
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", marker, err)
		case resp.StatusCode != 200:
			return fmt.Errorf("%s: status %d: %.200s", marker, resp.StatusCode, body)
		case !jsonEqual(t, string(body), doc):
			return fmt.Errorf("%s: response differs from the document sent (len %d vs %d): %.300s", marker, len(body), len(doc), body)
		}
		return nil
	})
	for _, r := range h.up.requests() {
		marker := r.Header.Get("X-Marker")
		if !gjson.ValidBytes(r.Body) {
			t.Errorf("%s: upstream got invalid JSON: %.200s", marker, r.Body)
			continue
		}
		if got := gjson.GetBytes(r.Body, "id").Str; got != marker {
			t.Errorf("%s: upstream got the body of %q", marker, got)
		}
		if containsAny(r.Body, marker+"@example.com", marker+" street", "+1-"+marker) {
			t.Errorf("%s: plaintext reached the upstream: %.300s", marker, r.Body)
		}
		// No other request's marker anywhere in this body.
		for g := 0; g < 6; g++ {
			for i := 0; i < 14; i++ {
				if other := fmt.Sprintf("m%02d%03dz", g, i); other != marker && bytes.Contains(r.Body, []byte(other)) {
					t.Errorf("%s: upstream body holds %s's bytes", marker, other)
				}
			}
		}
	}
}

// TestEarlyResponseWhileLargeBodyIsSent: an upstream that answers a large
// write before reading its body (a 200 with a large document of its own)
// leaves the transport still sending the forwarded buffer when the
// response is read; the response must not be read into that buffer, and
// every client must get its own answer. Run with -race.
func TestEarlyResponseWhileLargeBodyIsSent(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) {
		o.MaxBodyBytes = 4 << 20
		o.MaxResponseBytes = 4 << 20
	})
	early := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		marker := r.Header.Get("X-Marker")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, `{"id":"`+marker+`","pad":"`+strings.Repeat(marker, (100<<10)/len(marker))+`","email":"`+marker+`@example.com"}`)
	}))
	t.Cleanup(early.Close)
	u, _ := url.Parse(early.URL)
	h.proxy.upstream = u
	concurrently(t, 4, 10, func(g, i int) error {
		marker := fmt.Sprintf("e%02d%03dz", g, i)
		doc := `{"id":"` + marker + `","pad":"` + strings.Repeat(marker, (2<<20)/len(marker)) + `","email":"` + marker + `@example.com"}`
		resp, body, err := h.send(http.MethodPost, "/customers", markedJSON(marker), strings.NewReader(doc))
		if resp == nil {
			return fmt.Errorf("%s: %w", marker, err)
		}
		if err != nil || resp.StatusCode != 200 {
			t.Logf("%s: %d %v %.100s", marker, resp.StatusCode, err, body)
			return nil // a broken write is the upstream's to report
		}
		if gjson.GetBytes(body, "id").Str != marker || gjson.GetBytes(body, "email").Str != marker+"@example.com" ||
			!gjson.ValidBytes(body) || bytes.Count(body, []byte(marker)) != (100<<10)/len(marker)+2 {
			return fmt.Errorf("%s: got another answer: %.200s", marker, body)
		}
		return nil
	})
}

// markedJSON is the header of a JSON request that carries its marker
// (X-Marker), which tells the request apart at the upstream.
func markedJSON(marker string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "X-Marker": {marker}}
}
