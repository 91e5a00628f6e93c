package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

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
// (The reproduction asserted that the second forged read was still
// waiting; with the fix it ends on its own with 502, which is asserted
// instead.)
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	status := 0
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.front.URL+"/customers/7", nil)
		if resp, err := h.front.Client().Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
	}()
	defer func() { cancel(); <-done }()

	// Honest reads are sent while the second forged read runs (and, before
	// the fix, waited for the minute).
	busy := 0
	for range 10 {
		if resp, got := h.do(t, http.MethodGet, "/customers/8", nil, nil); resp.StatusCode == http.StatusServiceUnavailable && errorCode(t, got) == "busy" {
			busy++
		}
		time.Sleep(20 * time.Millisecond)
	}
	if busy > 0 {
		t.Errorf("%d honest reads got 503 while a forged read waited for the key refresh budget holding its buffer", busy)
	}
	// Half the refresh interval: a read that waits for the budget is
	// still waiting then; one that fails at once has long ended.
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the second forged read still waits for the refresh budget")
	}
	if status != http.StatusBadGateway {
		t.Errorf("second forged read: status %d, want 502", status)
	}
}
