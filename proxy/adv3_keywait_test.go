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
