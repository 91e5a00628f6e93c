package keycache_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
)

// These tests run in a testing/synctest bubble: Run's timers and the
// cache's clock (time.Now, the default Options.Now) are the bubble's, so
// they step through the bound's minutes at once. The ring is a real local
// ring file; writing garbage over it makes every refresh fail, as a
// deleted secret or a disabled CMK would.

func TestMaxStaleWithholdsARingThatNoLongerRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		reg := prometheus.NewRegistry()
		// MaxStale is checked every minute (MaxStale/20).
		c, outage := runningCache(t, keycache.Options{Interval: time.Minute, MaxStale: 20 * time.Minute}, &logs, reg)
		ring := c.Keyring()
		// step names a stage of the spell in its failures; t.Run cannot be
		// called inside a bubble.
		step := func(name string, f func()) {
			t.Helper()
			t.Log("step: " + name)
			f()
		}

		time.Sleep(5 * time.Minute)
		synctest.Wait()
		step("a ring that refreshes is served and nothing is logged", func() {
			if c.Keyring() != ring || !c.Status().Ready || c.Status().Stale || strings.Contains(logs.String(), "keys_stale") {
				t.Fatalf("status %+v; log %s", c.Status(), logs.String())
			}
			if got := sidecartest.Gather(t, reg).Sum("fieldseal_keys_max_stale_seconds", nil); got != 1200 {
				t.Errorf("fieldseal_keys_max_stale_seconds = %v, want 1200", got)
			}
		})

		outage.start(t)
		broken := time.Now()
		time.Sleep(11*time.Minute + 30*time.Second) // past half the bound, short of it
		synctest.Wait()
		step("past half the bound a warning is logged and the ring still served", func() {
			if c.Keyring() != ring || !c.Status().Ready {
				t.Fatal("the ring was withheld before the bound")
			}
			if n := strings.Count(logs.String(), `"event":"keys_stale_warning"`); n != 1 {
				t.Fatalf("%d warnings, want 1:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), `"last_error":"load key ring`) {
				t.Errorf("the warning does not carry the refresh error:\n%s", logs.String())
			}
			if got := sidecartest.Gather(t, reg).Sum("fieldseal_keys_stale", nil); got != 0 {
				t.Errorf("fieldseal_keys_stale = %v, want 0", got)
			}
		})

		// The bound passes 20m after the last success, at most when the
		// file broke; one check interval (a minute) later the ring is
		// withheld.
		time.Sleep(time.Until(broken.Add(20*time.Minute + time.Minute + time.Second)))
		synctest.Wait()
		step("past the bound no ring is served and the status says why", func() {
			if c.Keyring() != nil {
				t.Fatal("a stale ring was served")
			}
			st := c.Status()
			if st.Ready || !st.Stale || !strings.Contains(st.LastError, "max_stale bound of 20m0s") ||
				!strings.Contains(st.LastError, "load key ring") || st.Revision != ring.Revision() {
				t.Fatalf("status = %+v", st)
			}
			if !strings.Contains(logs.String(), `"event":"keys_stale_refused"`) {
				t.Fatalf("no keys_stale_refused event:\n%s", logs.String())
			}
			if got := sidecartest.Gather(t, reg).Sum("fieldseal_keys_stale", nil); got != 1 {
				t.Errorf("fieldseal_keys_stale = %v, want 1", got)
			}
		})
		step("past the bound RefreshForKey serves no ring either", func() {
			r, err := c.RefreshForKey(context.Background(), ring.Primary())
			if r != nil || !errors.Is(err, keycache.ErrStale) || !errors.Is(err, crypto.ErrNoKey) {
				t.Fatalf("RefreshForKey = %v, %v; want no ring and ErrStale", r, err)
			}
		})

		outage.end(t)
		time.Sleep(2 * time.Minute) // failures back off to at most one interval (+10%)
		synctest.Wait()
		step("once a refresh succeeds the ring is served again", func() {
			if c.Keyring() == nil || !c.Status().Ready || c.Status().Stale || c.Status().LastError != "" {
				t.Fatalf("status after recovery = %+v", c.Status())
			}
			if r, err := c.RefreshForKey(context.Background(), ring.Primary()); r == nil || err != nil {
				t.Fatalf("RefreshForKey after recovery = %v, %v", r, err)
			}
			if !strings.Contains(logs.String(), `"event":"keys_stale_recovered"`) {
				t.Fatalf("no keys_stale_recovered event:\n%s", logs.String())
			}
			if got := sidecartest.Gather(t, reg).Sum("fieldseal_keys_stale", nil); got != 0 {
				t.Errorf("fieldseal_keys_stale = %v, want 0", got)
			}
		})
	})
}

func TestWithoutMaxStaleTheRingIsServedThroughAnyOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		reg := prometheus.NewRegistry()
		c, outage := runningCache(t, keycache.Options{Interval: time.Hour}, &logs, reg)
		outage.start(t)
		time.Sleep(1000 * time.Hour)
		synctest.Wait()
		if c.Keyring() == nil || !c.Status().Ready || c.Status().Stale {
			t.Fatalf("an unbounded cache withheld its ring: %+v", c.Status())
		}
		if c.Status().ConsecutiveFailures == 0 {
			t.Fatal("the refreshes did not fail; the test proves nothing")
		}
		if strings.Contains(logs.String(), "keys_stale") || sidecartest.Gather(t, reg).Sum("fieldseal_keys_max_stale_seconds", nil) != 0 {
			t.Fatalf("staleness reported without a bound:\n%s", logs.String())
		}
	})
}

func TestStaleWarningOncePerSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		c, outage := runningCache(t, keycache.Options{Interval: time.Minute, MaxStale: 20 * time.Minute}, &logs, nil)
		warnings := func() int { return strings.Count(logs.String(), `"event":"keys_stale_warning"`) }
		for spell := 1; spell <= 2; spell++ {
			outage.start(t)
			time.Sleep(15 * time.Minute) // half the bound, and more checks, pass
			synctest.Wait()
			outage.end(t)
			time.Sleep(2 * time.Minute)
			synctest.Wait()
			if n := warnings(); n != spell {
				t.Fatalf("after %d outages past half the bound: %d warnings, want %d:\n%s", spell, n, spell, logs.String())
			}
			if c.Keyring() == nil || strings.Contains(logs.String(), "keys_stale_refused") {
				t.Fatal("the ring was withheld short of the bound")
			}
		}
	})
}

// runningCache is a running cache (runCache) on a real local ring that has
// loaded once, with opts and an Observer that logs to logs and registers its
// metrics in reg (nil: none). The outage breaks and mends the ring file.
func runningCache(t *testing.T, opts keycache.Options, logs *bytes.Buffer, reg prometheus.Registerer) (*keycache.Cache, ringOutage) {
	t.Helper()
	path, mk := localRing(t)
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.Observer = keycache.NewMonitor(keycache.MonitorOptions{Logger: zerolog.New(logs), Registerer: reg})
	c := keycache.New(localkeys.New(path, mk), opts)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	runCache(t, c)
	return c, ringOutage{path: path, original: original}
}

// ringOutage makes every refresh of a local ring fail, as a deleted secret
// or a disabled CMK would, by writing garbage over the ring file (start),
// and succeed again by writing the original back (end).
type ringOutage struct {
	path     string
	original []byte
}

func (o ringOutage) start(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(o.path, []byte(`{"format":"garbage"`), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (o ringOutage) end(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(o.path, o.original, 0o600); err != nil {
		t.Fatal(err)
	}
}
