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

	"github.com/tidwall/gjson"
)

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
	type result struct{ marker, problem string }
	problems := make(chan result, 256)
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 14; i++ {
				marker := fmt.Sprintf("m%02d%03dz", g, i)
				pad := strings.Repeat(marker, sizes[(g+i)%len(sizes)]/len(marker)+1)
				doc := `{"id":"` + marker + `","pad":"` + pad + `","email":"` + marker + `@example.com","phone":"+1-` + marker +
					`","address":{"street":"` + marker + ` street","city":"` + marker + `"},"tail":"` + marker + `"}`
				req, _ := http.NewRequest(http.MethodPost, h.front.URL+"/customers", strings.NewReader(doc))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Marker", marker)
				resp, err := h.front.Client().Do(req)
				if err != nil {
					problems <- result{marker, err.Error()}
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					problems <- result{marker, "read: " + err.Error()}
				case resp.StatusCode != 200:
					problems <- result{marker, fmt.Sprintf("status %d: %.200s", resp.StatusCode, body)}
				case !jsonEqual(t, string(body), doc):
					problems <- result{marker, fmt.Sprintf("response differs from the document sent (len %d vs %d): %.300s", len(body), len(doc), body)}
				}
			}
		}()
	}
	wg.Wait()
	close(problems)
	for p := range problems {
		t.Errorf("%s: %s", p.marker, p.problem)
	}
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
	var wg sync.WaitGroup
	problems := make(chan string, 64)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				marker := fmt.Sprintf("e%02d%03dz", g, i)
				doc := `{"id":"` + marker + `","pad":"` + strings.Repeat(marker, (2<<20)/len(marker)) + `","email":"` + marker + `@example.com"}`
				req, _ := http.NewRequest(http.MethodPost, h.front.URL+"/customers", strings.NewReader(doc))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Marker", marker)
				resp, err := h.front.Client().Do(req)
				if err != nil {
					problems <- marker + ": " + err.Error()
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					t.Logf("%s: %d %v %.100s", marker, resp.StatusCode, err, body)
					continue // a broken write is the upstream's to report
				}
				if gjson.GetBytes(body, "id").Str != marker || gjson.GetBytes(body, "email").Str != marker+"@example.com" ||
					!gjson.ValidBytes(body) || bytes.Count(body, []byte(marker)) != (100<<10)/len(marker)+2 {
					problems <- fmt.Sprintf("%s: got another answer: %.200s", marker, body)
				}
			}
		}()
	}
	wg.Wait()
	close(problems)
	for p := range problems {
		t.Error(p)
	}
}
