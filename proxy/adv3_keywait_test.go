package proxy

import (
	"context"
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
// budget is spent, waits for the next allowed refresh (up to
// MinRefreshInterval, 5s by default) while its response buffer stays
// charged to limits.max_buffered_bytes. One forged record written through
// the application thus turns each cheap GET into a buffer held for the
// whole interval: a handful of such GETs at once hold the budget, and
// every honest request that needs a buffer gets 503 meanwhile. The
// interval here is a minute so that the waiting read is surely waiting
// while the honest one is sent; the forged read is cancelled at the end.
func TestForgedKeyIDWaitHoldsTheBufferBudget(t *testing.T) {
	ringFile, mk := sidecartest.LocalRing(t)
	keys := keycache.New(localkeys.New(ringFile, mk), keycache.Options{Interval: time.Hour, MinRefreshInterval: time.Minute})
	if err := keys.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("p", 24<<10)
	forged := `{"id":7,"email":"` + forgeKeyID(t, sealFor(t, keys.Keyring(), "email", "", `"x@example.com"`), 999) + `","note":"` + pad + `"}`
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
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.front.URL+"/customers/7", nil)
		if resp, err := h.front.Client().Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	defer func() { cancel(); <-done }()

	// While the second forged read waits (it cannot end before the
	// minute is over or it is cancelled), honest reads are sent.
	busy := 0
	for i := 0; i < 50 && busy == 0; i++ {
		select {
		case <-done:
			t.Fatal("the forged read ended before it was cancelled")
		default:
		}
		if resp, got := h.do(t, http.MethodGet, "/customers/8", nil, nil); resp.StatusCode == http.StatusServiceUnavailable && errorCode(t, got) == "busy" {
			busy++
		}
		time.Sleep(20 * time.Millisecond)
	}
	if busy > 0 {
		t.Errorf("an honest read got 503 while one forged read waited for the key refresh budget holding its buffer")
	}
}
