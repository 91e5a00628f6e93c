package keycache_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

func TestConcurrentRefreshesShareOneLoad(t *testing.T) {
	path, mk := localRing(t)
	src := &countingSource{inner: localkeys.New(path, mk), gate: make(chan struct{})}
	c := keycache.New(src, keycache.Options{})
	const callers = 50
	var joined sync.WaitGroup
	joined.Add(callers)
	keycache.OnJoin(c, joined.Done)

	errs := make(chan error, callers)
	for range callers {
		go func() { errs <- c.Refresh(context.Background()) }()
	}
	joined.Wait() // every caller is waiting on the one gated load
	close(src.gate)
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := src.loads.Load(); n != 1 {
		t.Fatalf("%d concurrent Refresh calls caused %d loads, want 1", callers, n)
	}
	if c.Keyring() == nil || !c.Status().Ready {
		t.Fatal("cache not ready after refresh")
	}
	keycache.OnJoin(c, nil)
	if err := c.Refresh(context.Background()); err != nil || src.loads.Load() != 2 {
		t.Fatalf("a later Refresh: err %v, loads %d; want a second load", err, src.loads.Load())
	}
}

func TestRefreshReturnsWhenItsCallerGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path, mk := localRing(t)
		src := &countingSource{inner: localkeys.New(path, mk), gate: make(chan struct{})}
		c := keycache.New(src, keycache.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Refresh(ctx) }()
		synctest.Wait() // the load is held at the gate
		if n := src.loads.Load(); n != 1 {
			t.Fatalf("%d loads started, want 1", n)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Refresh error = %v, want context.Canceled", err)
		}
		close(src.gate) // the shared load goes on and installs its ring
		if err := c.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c.Keyring() == nil {
			t.Fatal("no ring after the load finished")
		}
	})
}

func TestRefreshFailureKeepsTheOldRing(t *testing.T) {
	path, mk := localRing(t)
	reg := prometheus.NewRegistry()
	var events eventLog
	var clock atomic.Pointer[time.Time]
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock.Store(&t0)
	now := func() time.Time { return *clock.Load() }
	c := keycache.New(localkeys.New(path, mk), keycache.Options{
		Observer: monitor(reg, now), OnEvent: events.add, Now: now,
	})
	if st := c.Status(); st.Ready || c.Keyring() != nil {
		t.Fatalf("ready before any load: %+v", st)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	good := c.Keyring()
	original, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(`{"format":"garbage"`), 0o600); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(90 * time.Second)
	clock.Store(&t1)
	for range 2 {
		if err := c.Refresh(context.Background()); !errors.Is(err, localkeys.ErrBadRing) {
			t.Fatalf("Refresh error = %v, want ErrBadRing", err)
		}
	}

	t.Run("the old ring stays in service", func(t *testing.T) {
		if c.Keyring() != good {
			t.Fatal("ring replaced after a failed refresh")
		}
		if _, err := c.Keyring().Seal(nil, []byte("x"), crypto.TypeString, crypto.ModeRandom, crypto.AAD(nil, "c", "")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("status says ready but failing", func(t *testing.T) {
		st := c.Status()
		if !st.Ready || st.Revision != good.Revision() || st.Primary != 1 || st.ConsecutiveFailures != 2 ||
			!strings.Contains(st.LastError, "invalid key ring") || !st.LastSuccess.Equal(t0) || !st.LastAttempt.Equal(t1) {
			t.Fatalf("Status = %+v", st)
		}
	})
	t.Run("metrics count the failures and the ring age", func(t *testing.T) {
		checks := []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"fieldseal_keys_refresh_total", map[string]string{"result": "error"}, 2},
			{"fieldseal_keys_refresh_total", map[string]string{"result": "loaded"}, 1},
			{"fieldseal_keys_consecutive_failures", nil, 2},
			{"fieldseal_keys_ring_age_seconds", nil, 90},
			{"fieldseal_keys_primary_version", nil, 1},
			{"fieldseal_keys_versions", nil, 1},
			{"fieldseal_keys_refresh_duration_seconds", nil, 3},
		}
		for _, ch := range checks {
			if got := sidecartest.Value(t, reg, ch.name, ch.labels); got != ch.want {
				t.Errorf("%s%v = %v, want %v", ch.name, ch.labels, got, ch.want)
			}
		}
	})
	t.Run("each failure is an error event with no key material", func(t *testing.T) {
		if got, want := events.kinds(), []string{keycache.EventLoaded, keycache.EventError, keycache.EventError}; !slices.Equal(got, want) {
			t.Fatalf("events = %v, want %v", got, want)
		}
		if e := events.events[1]; e.Err == nil || e.Revision != good.Revision() {
			t.Fatalf("error event = %+v", e)
		}
	})
	t.Run("recovery clears the failure count", func(t *testing.T) {
		if err := os.WriteFile(path, original, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := c.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := c.Status(); st.ConsecutiveFailures != 0 || st.LastError != "" || !st.LastSuccess.Equal(t1) {
			t.Fatalf("Status = %+v", st)
		}
		if got := sidecartest.Value(t, reg, "fieldseal_keys_consecutive_failures", nil); got != 0 {
			t.Fatalf("consecutive failures metric = %v", got)
		}
		if got := events.kinds(); len(got) != 3 {
			t.Fatalf("reloading the same revision emitted events: %v", got)
		}
	})
}

func TestRotationThroughTheCache(t *testing.T) {
	path, mk := localRing(t)
	var events eventLog
	c := keycache.New(localkeys.New(path, mk), keycache.Options{OnEvent: events.add})
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	aad := crypto.AAD(nil, "email", "tenant-1")
	v1, err := c.Keyring().Seal(nil, []byte("old@example.com"), crypto.TypeString, crypto.ModeRandom, aad)
	if err != nil {
		t.Fatal(err)
	}
	v1det, err := c.Keyring().Seal(nil, []byte("old@example.com"), crypto.TypeString, crypto.ModeDeterministic, aad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.Rotate(path, mk); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ring := c.Keyring()

	t.Run("the new version becomes primary and is announced", func(t *testing.T) {
		if ring.Primary() != 2 {
			t.Fatalf("primary = %d", ring.Primary())
		}
		ev := events.events[len(events.events)-1]
		if ev.Kind != keycache.EventRotationSeen || ev.Primary != 2 || !slices.Equal(ev.Versions, []uint32{1, 2}) {
			t.Fatalf("last event = %+v", ev)
		}
	})
	t.Run("values sealed under v1 still open", func(t *testing.T) {
		for _, v := range [][]byte{v1, v1det} {
			pt, _, id, err := ring.Open(nil, v, aad)
			if err != nil || string(pt) != "old@example.com" || id != 1 {
				t.Fatalf("Open = %q v%d %v", pt, id, err)
			}
		}
	})
	t.Run("new values carry v2 in their header", func(t *testing.T) {
		v2, err := ring.Seal(nil, []byte("new@example.com"), crypto.TypeString, crypto.ModeRandom, aad)
		if err != nil {
			t.Fatal(err)
		}
		_, _, id, err := ring.Open(nil, v2, aad)
		if err != nil || id != 2 {
			t.Fatalf("Open: v%d %v", id, err)
		}
		raw := mustDecode(t, v2)
		if got := binary.BigEndian.Uint32(raw[2:6]); got != 2 {
			t.Fatalf("header key id = %d", got)
		}
	})
	t.Run("a changed file with the same primary is a refresh", func(t *testing.T) {
		data, _ := os.ReadFile(path)
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, compact.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := c.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ev := events.events[len(events.events)-1]; ev.Kind != keycache.EventRefreshed || ev.Primary != 2 {
			t.Fatalf("last event = %+v", ev)
		}
	})
}

// The Run tests below run in a testing/synctest bubble: Run's timers use
// the bubble's fake clock, which moves only when every goroutine in the
// bubble is blocked, so the tests step through minutes of refresh schedule
// at once and can check it exactly (SetPhase fixes the random phase).

func TestRunChecksChangerBeforeLoading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path, mk := localRing(t)
		src := &countingChanger{countingSource: &countingSource{inner: localkeys.New(path, mk)}}
		reg := prometheus.NewRegistry()
		var events eventLog
		c := keycache.New(src, keycache.Options{Interval: time.Minute, Observer: monitor(reg, nil), OnEvent: events.add})
		keycache.SetPhase(c, 30*time.Second)
		if err := c.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		runCache(t, c)

		// Checks fall due at 30s, 1m30s, 2m30s, 3m30s...: three by 3m15s.
		time.Sleep(3*time.Minute + 15*time.Second)
		synctest.Wait()
		if n := src.checks.Load(); n != 3 {
			t.Fatalf("%d periodic checks in 3m30s at a 1m interval, want 3", n)
		}
		if n := src.loads.Load(); n != 1 {
			t.Fatalf("unchanged file was loaded %d times, want only the first load", n)
		}
		if got := sidecartest.Value(t, reg, "fieldseal_keys_refresh_total", map[string]string{"result": "unchanged"}); got != 3 {
			t.Fatalf("unchanged refreshes = %v, want 3", got)
		}
		if _, err := localkeys.Rotate(path, mk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // the next check is due by then
		synctest.Wait()
		if p := c.Keyring().Primary(); p != 2 {
			t.Fatalf("primary = %d one interval after the rotation, want 2", p)
		}
		if n := src.loads.Load(); n != 2 {
			t.Fatalf("loads = %d, want 2 (first load and the rotation)", n)
		}
		if got := events.kinds(); !slices.Equal(got, []string{keycache.EventLoaded, keycache.EventRotationSeen}) {
			t.Fatalf("events = %v", got)
		}
	})
}

func TestRunWithoutChangerReloadsPeriodically(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path, mk := localRing(t)
		src := &countingSource{inner: localkeys.New(path, mk)}
		var events eventLog
		c := keycache.New(src, keycache.Options{Interval: time.Minute, OnEvent: events.add})
		keycache.SetPhase(c, 30*time.Second)
		runCache(t, c)
		// The first load runs at once, then at 30s, 1m30s, 2m30s...
		time.Sleep(3*time.Minute + 15*time.Second)
		synctest.Wait()
		if n := src.loads.Load(); n != 4 {
			t.Fatalf("%d loads in 3m15s at a 1m interval and a 30s phase, want 4", n)
		}
		if got := events.kinds(); !slices.Equal(got, []string{keycache.EventLoaded}) {
			t.Fatalf("events = %v, want one loaded event (later loads had the same revision)", got)
		}
	})
}

func TestRunStartsWithoutKeysAndBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ring.json")
		text, _ := localkeys.GenerateMasterKey()
		mk, err := localkeys.ParseMasterKey(text)
		if err != nil {
			t.Fatal(err)
		}
		src := &countingSource{inner: localkeys.New(path, mk), began: make(chan time.Time)}
		var events eventLog
		const interval = 32 * time.Second
		c := keycache.New(src, keycache.Options{Interval: interval, OnEvent: events.add})
		keycache.SetPhase(c, 20*time.Second) // scheduled at 20s, 52s, 84s, 116s, 148s...
		start := time.Now()
		runCache(t, c)
		// wait receives the next load and checks that it began want ±10%
		// after the previous one.
		prev := <-src.began // the first load runs at once
		wait := func(what string, want time.Duration) {
			t.Helper()
			at := <-src.began
			if got := at.Sub(prev); got < want-want/10 || got > want+want/10 {
				t.Errorf("%s: the next load began %v later, want %v ±10%%", what, got, want)
			}
			prev = at
		}

		// After the n-th failure in a row Run waits interval/32 doubled
		// n-1 times, capped at the interval.
		backoff := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, interval, interval}
		for i, want := range backoff {
			wait(fmt.Sprintf("after failure %d", i+1), want)
		}
		synctest.Wait() // the last attempt failed too
		// Without keys the cache is not ready and seals nothing.
		if st := c.Status(); st.Ready || st.ConsecutiveFailures != len(backoff)+1 || !strings.Contains(st.LastError, "ring.json") {
			t.Fatalf("Status = %+v", st)
		}
		if _, err := c.Keyring().Seal(nil, []byte("x"), crypto.TypeString, crypto.ModeRandom, nil); !errors.Is(err, crypto.ErrNoKey) {
			t.Fatalf("Seal error = %v, want ErrNoKey", err)
		}

		if _, err := localkeys.Init(path, mk); err != nil {
			t.Fatal(err)
		}
		wait("after the last failure", interval)
		synctest.Wait()
		if st := c.Status(); !st.Ready || st.ConsecutiveFailures != 0 || st.Primary != 1 {
			t.Fatalf("Status = %+v", st)
		}
		if kinds := events.kinds(); kinds[0] != keycache.EventError || kinds[len(kinds)-1] != keycache.EventLoaded {
			t.Fatalf("events = %v", kinds)
		}

		// The load after the success keeps the cache's schedule (the backoff
		// waits did not move it), and a success resets the backoff: a later
		// failure is retried after interval/32 again.
		if err := os.WriteFile(path, []byte(`{"format":"garbage"`), 0o600); err != nil {
			t.Fatal(err)
		}
		at := <-src.began
		if since := at.Sub(start); (since-20*time.Second)%interval != 0 || at.Sub(prev) > interval {
			t.Errorf("after a success: the next load began %v after the start, %v after the success; want the next slot of 20s + n*32s", since, at.Sub(prev))
		}
		prev = at
		wait("after the first failure since the success", backoff[0])
		synctest.Wait()
	})
}

// mustDecode decodes the payload of a sealed value (FORMAT.md).
func mustDecode(t *testing.T, sealed []byte) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(string(sealed), crypto.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRunSchedule(t *testing.T) {
	t.Run("the phase is drawn in [0, interval)", func(t *testing.T) {
		c := keycache.New(&countingSource{}, keycache.Options{Interval: 15 * time.Minute})
		seen := map[time.Duration]bool{}
		for range 1000 {
			p := keycache.Phase(c)
			if p < 0 || p >= 15*time.Minute {
				t.Fatalf("phase %v outside [0, 15m)", p)
			}
			seen[p/time.Minute] = true
		}
		// 1000 uniform draws leave no minute of the 15 empty (odds ~1e-29).
		if len(seen) != 15 {
			t.Fatalf("phases fell in %d of 15 minutes: not spread over the interval", len(seen))
		}
	})
	t.Run("checks come at the phase, then exactly one interval apart", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, mk := localRing(t)
			src := &countingChanger{countingSource: &countingSource{inner: localkeys.New(path, mk)}}
			c := keycache.New(src, keycache.Options{})
			keycache.SetPhase(c, 7*time.Minute)
			if err := c.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			runCache(t, c)
			// Due at 7m, 22m, 37m, 52m under the 15m default interval.
			for _, step := range []struct {
				at   time.Duration
				want int32
			}{{6 * time.Minute, 0}, {8 * time.Minute, 1}, {21 * time.Minute, 1}, {23 * time.Minute, 2}, {51 * time.Minute, 3}, {53 * time.Minute, 4}} {
				time.Sleep(step.at - time.Since(start))
				synctest.Wait()
				if n := src.checks.Load(); n != step.want {
					t.Fatalf("%d checks by %v with phase 7m and interval 15m, want %d", n, step.at, step.want)
				}
			}
		})
	})
	t.Run("a rotation is used within one interval", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, mk := localRing(t)
			c := keycache.New(localkeys.New(path, mk), keycache.Options{})
			if err := c.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			runCache(t, c) // a random phase
			time.Sleep(time.Hour)
			synctest.Wait()
			if _, err := localkeys.Rotate(path, mk); err != nil {
				t.Fatal(err)
			}
			time.Sleep(keycache.DefaultInterval)
			synctest.Wait()
			if p := c.Keyring().Primary(); p != 2 {
				t.Fatalf("primary = v%d one interval after the rotation, want v2", p)
			}
		})
	})
}
