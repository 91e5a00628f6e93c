package proxy

import (
	"net/http"
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
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				req, _ := http.NewRequest(http.MethodPost, h.front.URL+"/customers", strings.NewReader(customer))
				req.Header.Set("Content-Type", "application/json")
				resp, err := h.front.Client().Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				var b strings.Builder
				buf := make([]byte, 4096)
				for {
					n, err := resp.Body.Read(buf)
					b.Write(buf[:n])
					if err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != 200 || gjson.Get(b.String(), "email").Str != "ada@example.com" {
					errs <- b.String()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	swaps.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
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
