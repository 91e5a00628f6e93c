package proxy

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// countingProvider is the real localkeys provider, counting the calls a
// key cache makes to it (loads and change checks).
type countingProvider struct {
	inner         *localkeys.Provider
	loads, checks atomic.Int32
}

func (p *countingProvider) Load(ctx context.Context, prev *crypto.Keyring) (*crypto.Keyring, error) {
	p.loads.Add(1)
	return p.inner.Load(ctx, prev)
}

func (p *countingProvider) Changed(ctx context.Context, prev *crypto.Keyring) (bool, error) {
	p.checks.Add(1)
	return p.inner.Changed(ctx, prev)
}

// fleet is two sidecars' key caches over one real local key-ring file.
// Sidecar A is the one that rotates; sidecar B (behind the proxy under
// test) refreshes only on demand: its periodic interval is an hour and its
// clock only moves when the test says so.
type fleet struct {
	ringFile string
	mk       localkeys.MasterKey
	a, b     *keycache.Cache
	bSrc     *countingProvider
	bNow     atomic.Int64 // B's clock, unix nanoseconds
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{}
	f.ringFile, f.mk = sidecartest.LocalRing(t)
	f.bNow.Store(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano())
	f.a = keycache.New(localkeys.New(f.ringFile, f.mk), keycache.Options{Interval: time.Hour})
	f.bSrc = &countingProvider{inner: localkeys.New(f.ringFile, f.mk)}
	f.b = keycache.New(f.bSrc, keycache.Options{
		Interval: time.Hour,
		Now:      func() time.Time { return time.Unix(0, f.bNow.Load()) },
	})
	for _, c := range []*keycache.Cache{f.a, f.b} {
		if err := c.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	f.bSrc.loads.Store(0)
	f.bSrc.checks.Store(0)
	return f
}

// rotate runs `keys rotate` on the shared file and lets only A see it.
func (f *fleet) rotate(t *testing.T) {
	t.Helper()
	if _, err := localkeys.Rotate(f.ringFile, f.mk); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.a.Keyring().Primary() != 2 || f.b.Keyring().Primary() != 1 {
		t.Fatalf("after rotate: A primary %d, B primary %d; want 2 and 1", f.a.Keyring().Primary(), f.b.Keyring().Primary())
	}
}

func (f *fleet) bCalls() int32 { return f.bSrc.loads.Load() + f.bSrc.checks.Load() }

// forgeKeyID returns sealed with its header's key id replaced: a value
// that is well formed but names a key no ring has.
func forgeKeyID(t *testing.T, sealed string, id uint32) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, crypto.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(raw[2:6], id)
	return crypto.Prefix + base64.RawURLEncoding.EncodeToString(raw)
}

// serveStored is an upstream handler answering every request with the
// record held in doc.
func serveStored(doc *atomic.Pointer[string]) func(w http.ResponseWriter, r *http.Request, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, *doc.Load())
	}
}

// getMany sends n concurrent reads and returns how many got each status.
func getMany(t *testing.T, h *harness, path string, n int, check func(status int, body []byte) error) map[int]int {
	t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			status := 0
			resp, body, err := h.send(http.MethodGet, path, nil, nil)
			if resp != nil {
				status = resp.StatusCode
			}
			if err == nil && check != nil {
				err = check(status, body)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
			}
			statuses[status]++
		})
	}
	wg.Wait()
	return statuses
}

func TestOpenAfterRotationByAnotherSidecar(t *testing.T) {
	for _, leaveSealed := range []bool{false, true} {
		t.Run(fmt.Sprintf("a value sealed under a key this sidecar has not loaded opens after one refresh (leave sealed on open error: %v)", leaveSealed), func(t *testing.T) {
			f := newFleet(t)
			f.rotate(t)
			var doc atomic.Pointer[string]
			record := `{"id":7,"email":"` + sealFor(t, f.a.Keyring(), "email", "", `"new@example.com"`) + `"}`
			doc.Store(&record)
			h := newHarness(t, serveStored(&doc), func(o *Options) {
				o.Keys = f.b
				o.LeaveSealedOnOpenError = leaveSealed
			})

			resp, body := h.do(t, http.MethodGet, "/customers/7", nil, nil)
			if resp.StatusCode != http.StatusOK || gjson.GetBytes(body, "email").Str != "new@example.com" {
				t.Fatalf("read: %d %s; want 200 with the plaintext", resp.StatusCode, body)
			}
			if p := f.b.Keyring().Primary(); p != 2 {
				t.Fatalf("B's ring primary = %d after the read, want 2", p)
			}
			if l := f.bSrc.loads.Load(); l != 1 {
				t.Fatalf("B loaded %d times, want 1", l)
			}

			resp, body = h.do(t, http.MethodGet, "/customers/7", nil, nil)
			if resp.StatusCode != http.StatusOK || f.bCalls() != 2 {
				t.Fatalf("second read: %d %s, %d provider calls; want 200 and no new call", resp.StatusCode, body, f.bCalls())
			}
		})
	}

	t.Run("100 concurrent reads of such values cause exactly one provider load", func(t *testing.T) {
		f := newFleet(t)
		f.rotate(t)
		var doc atomic.Pointer[string]
		record := `{"id":7,"email":"` + sealFor(t, f.a.Keyring(), "email", "", `"new@example.com"`) + `"}`
		doc.Store(&record)
		h := newHarness(t, serveStored(&doc), func(o *Options) { o.Keys = f.b })

		statuses := getMany(t, h, "/customers/7", 100, func(status int, body []byte) error {
			if status != http.StatusOK || gjson.GetBytes(body, "email").Str != "new@example.com" {
				return fmt.Errorf("read: %d %s; want 200 with the plaintext", status, body)
			}
			return nil
		})
		if statuses[http.StatusOK] != 100 {
			t.Fatalf("statuses = %v", statuses)
		}
		if l, c := f.bSrc.loads.Load(), f.bSrc.checks.Load(); l != 1 || c != 1 {
			t.Fatalf("100 reads caused %d loads and %d change checks, want 1 and 1", l, c)
		}
	})

	t.Run("a flood of forged key ids still fails and refreshes at most once per interval, later reads waiting for it", func(t *testing.T) {
		f := newFleet(t)
		var doc atomic.Pointer[string]
		record := `{"id":7,"email":"` + forgeKeyID(t, sealFor(t, f.b.Keyring(), "email", "", `"x@example.com"`), 999) + `"}`
		doc.Store(&record)
		h := newHarness(t, serveStored(&doc), func(o *Options) { o.Keys = f.b })
		is502 := func(status int, body []byte) error {
			if status != http.StatusBadGateway || gjson.GetBytes(body, "error.code").Str != "open_failed" {
				return fmt.Errorf("forged read: %d %s; want 502 open_failed", status, body)
			}
			return nil
		}

		// Reads that find the budget spent wait for the next allowed
		// refresh and share it, so provider calls never outpace one per
		// interval (5s), however long the floods take.
		begin := time.Now()
		getMany(t, h, "/customers/7", 100, is502)
		getMany(t, h, "/customers/7", 100, is502)
		if n, most := f.bCalls(), 1+int(time.Since(begin)/(5*time.Second)); n < 1 || int(n) > most {
			t.Fatalf("two floods: %d provider calls, want between 1 and %d", n, most)
		}
		if l := f.bSrc.loads.Load(); l != 0 {
			t.Fatalf("%d loads of an unchanged ring, want 0", l)
		}
	})

	t.Run("a forged key id is left sealed under on_open_error sealed", func(t *testing.T) {
		f := newFleet(t)
		var doc atomic.Pointer[string]
		forged := forgeKeyID(t, sealFor(t, f.b.Keyring(), "email", "", `"x@example.com"`), 999)
		record := `{"id":7,"email":"` + forged + `"}`
		doc.Store(&record)
		h := newHarness(t, serveStored(&doc), func(o *Options) {
			o.Keys = f.b
			o.LeaveSealedOnOpenError = true
		})
		resp, body := h.do(t, http.MethodGet, "/customers/7", nil, nil)
		if resp.StatusCode != http.StatusOK || gjson.GetBytes(body, "email").Str != forged {
			t.Fatalf("read: %d %s; want 200 with the value left sealed", resp.StatusCode, body)
		}
		if n := f.bCalls(); n != 1 {
			t.Fatalf("%d provider calls, want 1", n)
		}
	})

	t.Run("one request refreshes at most once however many values fail", func(t *testing.T) {
		f := newFleet(t)
		var doc atomic.Pointer[string]
		record := fmt.Sprintf(`{"id":7,"email":%q,"phone":%q}`,
			forgeKeyID(t, sealFor(t, f.b.Keyring(), "email", "", `"x@example.com"`), 999),
			forgeKeyID(t, sealFor(t, f.b.Keyring(), "phone", "", `"+1 555"`), 1000))
		doc.Store(&record)
		keys := &recordingRefresher{Cache: f.b}
		h := newHarness(t, serveStored(&doc), func(o *Options) {
			o.Keys = keys
			o.LeaveSealedOnOpenError = true
		})
		if resp, body := h.do(t, http.MethodGet, "/customers/7", nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("read: %d %s", resp.StatusCode, body)
		}
		if calls := keys.ids(); len(calls) != 1 || calls[0] != 999 {
			t.Fatalf("RefreshForKey calls = %v, want one for v999", calls)
		}
	})

	t.Run("a write of a value sealed under the new key is kept after one refresh, and new values use the new key", func(t *testing.T) {
		f := newFleet(t)
		f.rotate(t)
		h := newHarness(t, nil, func(o *Options) { acceptSealed(t)(o); o.Keys = f.b })
		sealed := sealFor(t, f.a.Keyring(), "email", "", `"new@example.com"`)
		// The upstream echoes the stored record: the response side opens
		// it with the ring the request side refreshed, without a second
		// refresh.
		resp, body := h.do(t, http.MethodPut, "/customers/7", jsonHeader(), strings.NewReader(`{"email":"`+sealed+`","phone":"+1 555"}`))
		if resp.StatusCode != http.StatusOK || !jsonEqual(t, string(body), `{"email":"new@example.com","phone":"+1 555"}`) {
			t.Fatalf("write: %d %s; want 200 with the record in plaintext", resp.StatusCode, body)
		}
		if l := f.bSrc.loads.Load(); l != 1 {
			t.Fatalf("B loaded %d times, want 1", l)
		}
		reqs := h.up.requests()
		got := gjson.GetBytes(reqs[len(reqs)-1].Body, "email").Str
		phone := gjson.GetBytes(reqs[len(reqs)-1].Body, "phone").Str
		if got != sealed {
			t.Fatalf("upstream got email %q, want the sealed value unchanged", got)
		}
		if _, _, id, err := f.b.Keyring().Open(nil, []byte(phone), crypto.AAD(nil, "phone", "")); err != nil || id != 2 {
			t.Fatalf("phone sealed under v%d (%v), want the new primary v2", id, err)
		}
	})
}

// recordingRefresher records the key ids the proxy asks a cache for.
type recordingRefresher struct {
	*keycache.Cache
	mu    sync.Mutex
	calls []uint32
}

func (r *recordingRefresher) RefreshForKey(ctx context.Context, id uint32) (*crypto.Keyring, error) {
	r.mu.Lock()
	r.calls = append(r.calls, id)
	r.mu.Unlock()
	return r.Cache.RefreshForKey(ctx, id)
}

func (r *recordingRefresher) ids() []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint32(nil), r.calls...)
}

// TestForgedKeyIDWaitHoldsTheBufferBudget (round 3, adversary 3): a read
// of a stored value naming a made-up key id, once the on-demand refresh
// budget is spent, waited for the next allowed refresh (up to
// MinRefreshInterval, 5s by default) while its response buffer stayed
// charged to limits.max_buffered_bytes. One forged record written through
// the application thus turned each cheap GET into a buffer held for the
// whole interval: a handful of such GETs at once held the budget, and
// every honest request that needs a buffer got 503 meanwhile. The
// interval here is a minute so that a waiting read would surely be waiting
// while the honest ones are sent. Now only a plausible next key version
// waits, and only until a refresh found it absent from the ring: a far id
// (v999) and a plausible one already found absent (v2) both fail at once.
// (The reproduction sent honest reads while the second forged read
// waited; with the fix it ends on its own with 502 within half the
// interval, which is asserted instead, and the reads are sent after it so
// that the two cannot race for the budget.)
func TestForgedKeyIDWaitHoldsTheBufferBudget(t *testing.T) {
	for _, id := range []uint32{999, 2} {
		t.Run(fmt.Sprintf("v%d", id), func(t *testing.T) { forgedKeyIDWait(t, id) })
	}
}

func forgedKeyIDWait(t *testing.T, id uint32) {
	ringFile, mk := sidecartest.LocalRing(t)
	keys := keycache.New(localkeys.New(ringFile, mk), keycache.Options{Interval: time.Hour, MinRefreshInterval: time.Minute})
	if err := keys.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := keys.Keyring().Primary(); p != 1 {
		t.Fatalf("primary v%d, want v1", p)
	}
	pad := strings.Repeat("p", 24<<10)
	forged := `{"id":7,"email":"` + forgeKeyID(t, sealFor(t, keys.Keyring(), "email", "", `"x@example.com"`), id) + `","note":"` + pad + `"}`
	honest := `{"id":8,"email":"` + sealFor(t, keys.Keyring(), "email", "", `"ada@example.com"`) + `","note":"` + pad + `"}`
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/7") {
			_, _ = io.WriteString(w, forged)
			return
		}
		_, _ = io.WriteString(w, honest)
	}, func(o *Options) {
		o.Keys = keys
		o.MaxBufferedBytes = 40 << 10
	})

	if resp, _ := h.do(t, http.MethodGet, "/customers/8", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("control: honest read alone: status %d", resp.StatusCode)
	}
	// The first forged read spends the on-demand refresh budget.
	if resp, _ := h.do(t, http.MethodGet, "/customers/7", nil, nil); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("first forged read: status %d, want 502", resp.StatusCode)
	}
	// The second forged read finds the budget spent. Before the fix it
	// waited for the minute holding its buffer; now it ends at once. Half
	// the interval bounds it: a waiting read is still waiting then. It is
	// sent alone, so that an honest read holding the 40 KiB budget cannot
	// turn it into a 503 (the budget fits one of these responses).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.front.URL+"/customers/7", nil)
	resp, err := h.front.Client().Do(req)
	if err != nil {
		t.Fatalf("the second forged read still waits for the refresh budget: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	status := resp.StatusCode

	// Its buffer is released with it: honest reads find the budget free.
	busy := 0
	for range 10 {
		if resp, got := h.do(t, http.MethodGet, "/customers/8", nil, nil); resp.StatusCode == http.StatusServiceUnavailable && errorCode(t, got) == "busy" {
			busy++
		}
	}
	if busy > 0 {
		t.Errorf("%d honest reads got 503 after a forged read ended", busy)
	}
	if status != http.StatusBadGateway {
		t.Errorf("second forged read: status %d, want 502", status)
	}
}
