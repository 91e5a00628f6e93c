package keycache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// testClock is an injected CacheOptions.Now that tests move by hand.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// sidecar is one key cache over a shared ring file, as one sidecar has.
type sidecar struct {
	src   *countingChanger
	cache *keycache.Cache
	reg   *prometheus.Registry
	clock *testClock
}

// calls is every provider call the sidecar made (change checks and loads).
func (s *sidecar) calls() int32 { return s.src.loads.Load() + s.src.checks.Load() }

func newSidecar(t *testing.T, path string, mk localkeys.MasterKey, gate chan struct{}) *sidecar {
	t.Helper()
	s := &sidecar{
		src:   &countingChanger{countingSource: &countingSource{inner: localkeys.New(path, mk)}},
		reg:   prometheus.NewRegistry(),
		clock: newTestClock(),
	}
	// A long periodic interval: only on-demand refreshes happen here.
	s.cache = keycache.New(s.src, keycache.Options{Interval: time.Hour, Observer: monitor(s.reg, s.clock.Now), Now: s.clock.Now})
	if err := s.cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.src.gate = gate // holds later loads until the test closes it
	s.src.loads.Store(0)
	s.src.checks.Store(0)
	return s
}

// sealedUnderRotatedKey rotates the ring file, lets sidecar a pick the new
// key up and seal a value with it, and returns that value and its AAD.
func sealedUnderRotatedKey(t *testing.T, path string, mk localkeys.MasterKey, a *sidecar) (sealed, aad []byte) {
	t.Helper()
	if _, err := localkeys.Rotate(path, mk); err != nil {
		t.Fatal(err)
	}
	if err := a.cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	aad = crypto.AAD(nil, "email", "tenant-1")
	sealed, err := a.cache.Keyring().Seal(nil, []byte("new@example.com"), crypto.TypeString, crypto.ModeRandom, aad)
	if err != nil {
		t.Fatal(err)
	}
	return sealed, aad
}

func TestRefreshForKey(t *testing.T) {
	t.Run("a key the ring holds is returned at once without a provider call", func(t *testing.T) {
		path, mk := localRing(t)
		b := newSidecar(t, path, mk, nil)
		ring, err := b.cache.RefreshForKey(context.Background(), 1)
		if err != nil || ring != b.cache.Keyring() {
			t.Fatalf("RefreshForKey(1) = %p, %v; want the current ring", ring, err)
		}
		if n := b.calls(); n != 0 {
			t.Fatalf("%d provider calls, want 0", n)
		}
	})

	t.Run("a sidecar that missed a rotation opens the new key's values after one load", func(t *testing.T) {
		path, mk := localRing(t)
		a, b := newSidecar(t, path, mk, nil), newSidecar(t, path, mk, nil)
		sealed, aad := sealedUnderRotatedKey(t, path, mk, a)

		_, _, id, err := b.cache.Keyring().Open(nil, sealed, aad)
		if !errors.Is(err, crypto.ErrUnknownKey) || id != 2 {
			t.Fatalf("before: Open = v%d, %v; want ErrUnknownKey naming v2", id, err)
		}
		ring, err := b.cache.RefreshForKey(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _, err := ring.Open(nil, sealed, aad)
		if err != nil || string(pt) != "new@example.com" {
			t.Fatalf("after: Open = %q, %v", pt, err)
		}
		if ring != b.cache.Keyring() || ring.Primary() != 2 {
			t.Fatalf("the cache does not serve the refreshed ring (primary %d)", b.cache.Keyring().Primary())
		}
		if n := b.src.loads.Load(); n != 1 {
			t.Fatalf("%d loads, want 1", n)
		}
		if got := sidecartest.Value(t, b.reg, "fieldseal_keys_unknown_key_refreshes_total", map[string]string{"result": "refreshed"}); got != 1 {
			t.Fatalf("refreshed = %v, want 1", got)
		}
	})

	t.Run("concurrent callers for the missing key share one provider load", func(t *testing.T) {
		path, mk := localRing(t)
		a := newSidecar(t, path, mk, nil)
		b := newSidecar(t, path, mk, make(chan struct{}))
		sealed, aad := sealedUnderRotatedKey(t, path, mk, a)

		const callers = 100
		var joined sync.WaitGroup
		joined.Add(callers)
		keycache.OnJoin(b.cache, joined.Done)
		errs := make(chan error, callers)
		for range callers {
			go func() {
				ring, err := b.cache.RefreshForKey(context.Background(), 2)
				if err == nil {
					_, _, _, err = ring.Open(nil, sealed, aad)
				}
				errs <- err
			}()
		}
		joined.Wait() // every caller waits on the one gated load
		close(b.src.gate)
		for range callers {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if l, c := b.src.loads.Load(), b.src.checks.Load(); l != 1 || c != 1 {
			t.Fatalf("%d callers caused %d loads and %d change checks, want 1 and 1", callers, l, c)
		}
		if got := sidecartest.Value(t, b.reg, "fieldseal_keys_unknown_key_refreshes_total", map[string]string{"result": "refreshed"}); got != callers {
			t.Fatalf("refreshed = %v, want %d", got, callers)
		}
	})

	t.Run("a flood of forged key ids refreshes at most once per MinRefreshInterval", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, mk := localRing(t)
			b := newSidecar(t, path, mk, nil)
			begin := time.Now()
			if _, err := b.cache.RefreshForKey(context.Background(), 999); !errors.Is(err, crypto.ErrUnknownKey) {
				t.Fatalf("first forged id: %v", err)
			}
			flood := func(first uint32) {
				var wg sync.WaitGroup
				for i := range 200 {
					wg.Go(func() {
						ring, err := b.cache.RefreshForKey(context.Background(), first+uint32(i%3))
						if ring != b.cache.Keyring() || !errors.Is(err, crypto.ErrUnknownKey) {
							t.Errorf("RefreshForKey(forged) = %v, want the ring in service and ErrUnknownKey", err)
						}
					})
				}
				wg.Wait()
			}
			// The budget is spent: ids far above the ring's versions
			// (v1) fail at once, without a provider call, so that a
			// forged value does not hold its request for the interval.
			flood(999)
			if n, took := b.calls(), time.Since(begin); n != 1 || took != 0 {
				t.Fatalf("flood of far ids: %d provider calls after %v, want 1 at once", n, took)
			}
			// Plausible successors (v2..v4) wait for the next allowed
			// refresh and share it...
			flood(2)
			if n, took := b.calls(), time.Since(begin); n != 2 || took != 5*time.Second {
				t.Fatalf("first flood of successors: %d provider calls after %v, want 2 after 5s", n, took)
			}
			// ...which found them absent from this revision: from then on
			// they fail at once too, until the ring changes.
			flood(2)
			if n, took := b.calls(), time.Since(begin); n != 2 || took != 5*time.Second {
				t.Fatalf("second flood of successors: %d provider calls after %v, want still 2 after 5s", n, took)
			}
			if n := b.src.loads.Load(); n != 0 {
				t.Fatalf("%d loads of an unchanged ring file, want 0 (the change check suffices)", n)
			}
			if got := sidecartest.Value(t, b.reg, "fieldseal_keys_unknown_key_refreshes_total", map[string]string{"result": "still_unknown"}); got != 601 {
				t.Fatalf("still_unknown = %v, want 601", got)
			}
			// The price: when v2 then really comes, its values fail at once
			// until the next allowed refresh (5s after the last one), which
			// the next read of one starts.
			if _, err := localkeys.Rotate(path, mk); err != nil {
				t.Fatal(err)
			}
			if _, err := b.cache.RefreshForKey(context.Background(), 2); !errors.Is(err, crypto.ErrUnknownKey) {
				t.Fatalf("RefreshForKey(2) right after the rotation: %v, want ErrUnknownKey at once", err)
			}
			time.Sleep(5 * time.Second)
			if _, err := b.cache.RefreshForKey(context.Background(), 2); err != nil {
				t.Fatalf("RefreshForKey(2) once a refresh is allowed: %v", err)
			}
			// The new revision forgets what was absent from the old one: its
			// successor v3 waits again (the budget was spent just now).
			if _, err := localkeys.Rotate(path, mk); err != nil {
				t.Fatal(err)
			}
			at := time.Now()
			if ring, err := b.cache.RefreshForKey(context.Background(), 3); err != nil || ring.Primary() != 3 {
				t.Fatalf("RefreshForKey(3) = %v, want v3 after the next allowed refresh", err)
			}
			if took := time.Since(at); took != 5*time.Second {
				t.Fatalf("v3 opened after %v, want 5s (the next allowed refresh)", took)
			}
		})
	})

	t.Run("a value under a new key read right after a forged id waits for the next allowed refresh and opens", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, mk := localRing(t)
			a, b := newSidecar(t, path, mk, nil), newSidecar(t, path, mk, nil)
			if _, err := b.cache.RefreshForKey(context.Background(), 999); !errors.Is(err, crypto.ErrUnknownKey) {
				t.Fatalf("forged id: %v", err)
			}
			sealed, aad := sealedUnderRotatedKey(t, path, mk, a)
			begin := time.Now()
			ring, err := b.cache.RefreshForKey(context.Background(), 2)
			if err != nil || ring.Primary() != 2 {
				t.Fatalf("RefreshForKey(2) = primary %d, %v", ring.Primary(), err)
			}
			if took := time.Since(begin); took != 5*time.Second {
				t.Fatalf("opened after %v, want at the next allowed refresh, 5s after the forged id", took)
			}
			if pt, _, _, err := ring.Open(nil, sealed, aad); err != nil || string(pt) != "new@example.com" {
				t.Fatalf("Open = %q, %v", pt, err)
			}
		})
	})

	t.Run("a caller whose deadline comes before the next allowed refresh is told it was rate limited", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, mk := localRing(t)
			b := newSidecar(t, path, mk, nil)
			if _, err := b.cache.RefreshForKey(context.Background(), 999); !errors.Is(err, crypto.ErrUnknownKey) {
				t.Fatalf("forged id: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			ring, err := b.cache.RefreshForKey(ctx, 2)
			if !errors.Is(err, keycache.ErrRefreshLimited) || !errors.Is(err, context.DeadlineExceeded) || ring != b.cache.Keyring() {
				t.Fatalf("RefreshForKey = %v, want ErrRefreshLimited and DeadlineExceeded with the ring in service", err)
			}
			if got := sidecartest.Value(t, b.reg, "fieldseal_keys_unknown_key_refreshes_total", map[string]string{"result": "rate_limited"}); got != 1 {
				t.Fatalf("rate_limited = %v, want 1", got)
			}
			// The flight goes on to its refresh at the next allowed time.
			time.Sleep(5 * time.Second)
			synctest.Wait()
			if n := b.calls(); n != 2 {
				t.Fatalf("%d provider calls, want 2 (the forged id's, then the one the flight waited for)", n)
			}
		})
	})

	t.Run("the interval is configurable", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, mk := localRing(t)
			src := &countingChanger{countingSource: &countingSource{inner: localkeys.New(path, mk)}}
			c := keycache.New(src, keycache.Options{MinRefreshInterval: time.Minute})
			if err := c.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			// Three plausible successors of v1, each waiting for its turn.
			for id := range uint32(3) {
				_, _ = c.RefreshForKey(context.Background(), 2+id)
			}
			if n, took := src.checks.Load(), time.Since(begin); n != 3 || took != 2*time.Minute {
				t.Fatalf("%d change checks after %v with a 1m interval, want 3 after 2m", n, took)
			}
		})
	})

	t.Run("a caller that gives up returns its context's error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, mk := localRing(t)
			b := newSidecar(t, path, mk, make(chan struct{}))
			if _, err := localkeys.Rotate(path, mk); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			keycache.OnJoin(b.cache, cancel)
			ring, err := b.cache.RefreshForKey(ctx, 2)
			if !errors.Is(err, context.Canceled) || ring == nil || ring.Primary() != 1 {
				t.Fatalf("RefreshForKey = primary %d, %v; want the old ring and context.Canceled", ring.Primary(), err)
			}
			keycache.OnJoin(b.cache, nil)
			close(b.src.gate) // the load goes on without its caller...
			synctest.Wait()   // ...and lands
			if p := b.cache.Keyring().Primary(); p != 2 {
				t.Fatalf("primary = %d after the gated load ended, want 2", p)
			}
			if got := sidecartest.Value(t, b.reg, "fieldseal_keys_unknown_key_refreshes_total", map[string]string{"result": "error"}); got != 1 {
				t.Fatalf("error = %v, want 1", got)
			}
		})
	})
}
