package crypto_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
)

// countingSource wraps a real localkeys provider and counts loads. When gate
// is set, Load waits for it to close, so a test can hold a load in flight.
type countingSource struct {
	inner *localkeys.Provider
	loads atomic.Int32
	gate  chan struct{}
}

func (s *countingSource) Load(ctx context.Context, prev *crypto.Keyring) (*crypto.Keyring, error) {
	s.loads.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.inner.Load(ctx, prev)
}

// countingChanger adds the provider's Changer to countingSource.
type countingChanger struct {
	*countingSource
	checks atomic.Int32
}

func (s *countingChanger) Changed(ctx context.Context, prev *crypto.Keyring) (bool, error) {
	s.checks.Add(1)
	return s.inner.Changed(ctx, prev)
}

// eventLog records key events.
type eventLog struct {
	mu     sync.Mutex
	events []crypto.KeyEvent
}

func (l *eventLog) add(e crypto.KeyEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var k []string
	for _, e := range l.events {
		k = append(k, e.Kind)
	}
	return k
}

// localRing makes a ring file under a temporary directory.
func localRing(t *testing.T) (path string, mk localkeys.MasterKey) {
	t.Helper()
	text, err := localkeys.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if mk, err = localkeys.ParseMasterKey(text); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "ring.json")
	if _, err := localkeys.Init(path, mk); err != nil {
		t.Fatal(err)
	}
	return path, mk
}

// metricValue reads one sample from reg: a counter, gauge or the sample
// count of a histogram. labels are name, value pairs.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

// waitFor polls cond until it holds, failing after a bound generous enough
// for a loaded machine. It asserts an outcome, not a duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// runCache runs c.Run and returns a stop function that waits for it to end.
func runCache(t *testing.T, c *crypto.Cache) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestConcurrentRefreshesShareOneLoad(t *testing.T) {
	path, mk := localRing(t)
	src := &countingSource{inner: localkeys.New(path, mk), gate: make(chan struct{})}
	c := crypto.NewCache(src, crypto.CacheOptions{})
	const callers = 50
	var joined sync.WaitGroup
	joined.Add(callers)
	crypto.OnJoin(c, joined.Done)

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
	crypto.OnJoin(c, nil)
	if err := c.Refresh(context.Background()); err != nil || src.loads.Load() != 2 {
		t.Fatalf("a later Refresh: err %v, loads %d; want a second load", err, src.loads.Load())
	}
}

func TestRefreshReturnsWhenItsCallerGivesUp(t *testing.T) {
	path, mk := localRing(t)
	src := &countingSource{inner: localkeys.New(path, mk), gate: make(chan struct{})}
	c := crypto.NewCache(src, crypto.CacheOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Refresh(ctx) }()
	waitFor(t, "the load started", func() bool { return src.loads.Load() == 1 })
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
}

func TestRefreshFailureKeepsTheOldRing(t *testing.T) {
	path, mk := localRing(t)
	reg := prometheus.NewRegistry()
	var events eventLog
	var clock atomic.Pointer[time.Time]
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock.Store(&t0)
	c := crypto.NewCache(localkeys.New(path, mk), crypto.CacheOptions{
		Registerer: reg, OnEvent: events.add, Now: func() time.Time { return *clock.Load() },
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
			labels []string
			want   float64
		}{
			{"fieldseal_keys_refresh_total", []string{"result", "error"}, 2},
			{"fieldseal_keys_refresh_total", []string{"result", "loaded"}, 1},
			{"fieldseal_keys_consecutive_failures", nil, 2},
			{"fieldseal_keys_ring_age_seconds", nil, 90},
			{"fieldseal_keys_primary_version", nil, 1},
			{"fieldseal_keys_versions", nil, 1},
			{"fieldseal_keys_refresh_duration_seconds", nil, 3},
		}
		for _, ch := range checks {
			if got := metricValue(t, reg, ch.name, ch.labels...); got != ch.want {
				t.Errorf("%s%v = %v, want %v", ch.name, ch.labels, got, ch.want)
			}
		}
	})
	t.Run("each failure is an error event with no key material", func(t *testing.T) {
		if got, want := events.kinds(), []string{crypto.EventLoaded, crypto.EventError, crypto.EventError}; !slices.Equal(got, want) {
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
		if got := metricValue(t, reg, "fieldseal_keys_consecutive_failures"); got != 0 {
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
	c := crypto.NewCache(localkeys.New(path, mk), crypto.CacheOptions{OnEvent: events.add})
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
		if ev.Kind != crypto.EventRotationSeen || ev.Primary != 2 || !slices.Equal(ev.Versions, []uint32{1, 2}) {
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
		if ev := events.events[len(events.events)-1]; ev.Kind != crypto.EventRefreshed || ev.Primary != 2 {
			t.Fatalf("last event = %+v", ev)
		}
	})
}

func TestRunChecksChangerBeforeLoading(t *testing.T) {
	path, mk := localRing(t)
	src := &countingChanger{countingSource: &countingSource{inner: localkeys.New(path, mk)}}
	reg := prometheus.NewRegistry()
	var events eventLog
	c := crypto.NewCache(src, crypto.CacheOptions{Interval: 5 * time.Millisecond, Registerer: reg, OnEvent: events.add})
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := runCache(t, c)

	waitFor(t, "three periodic checks ran", func() bool { return src.checks.Load() >= 3 })
	if n := src.loads.Load(); n != 1 {
		t.Fatalf("unchanged file was loaded %d times, want only the first load", n)
	}
	if got := metricValue(t, reg, "fieldseal_keys_refresh_total", "result", "unchanged"); got < 3 {
		t.Fatalf("unchanged refreshes = %v", got)
	}
	if _, err := localkeys.Rotate(path, mk); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rotation was picked up", func() bool { return c.Keyring().Primary() == 2 })
	stop()
	if n := src.loads.Load(); n != 2 {
		t.Fatalf("loads = %d, want 2 (first load and the rotation)", n)
	}
	if got := events.kinds(); !slices.Equal(got, []string{crypto.EventLoaded, crypto.EventRotationSeen}) {
		t.Fatalf("events = %v", got)
	}
}

func TestRunWithoutChangerReloadsPeriodically(t *testing.T) {
	path, mk := localRing(t)
	src := &countingSource{inner: localkeys.New(path, mk)}
	var events eventLog
	c := crypto.NewCache(src, crypto.CacheOptions{Interval: 5 * time.Millisecond, OnEvent: events.add})
	stop := runCache(t, c)
	waitFor(t, "three loads ran", func() bool { return src.loads.Load() >= 3 })
	stop()
	if got := events.kinds(); !slices.Equal(got, []string{crypto.EventLoaded}) {
		t.Fatalf("events = %v, want one loaded event (later loads had the same revision)", got)
	}
}

func TestRunStartsWithoutKeysAndRetries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ring.json")
	text, _ := localkeys.GenerateMasterKey()
	mk, err := localkeys.ParseMasterKey(text)
	if err != nil {
		t.Fatal(err)
	}
	var events eventLog
	c := crypto.NewCache(localkeys.New(path, mk), crypto.CacheOptions{Interval: 20 * time.Millisecond, OnEvent: events.add})
	runCache(t, c)

	waitFor(t, "two failed attempts", func() bool { return c.Status().ConsecutiveFailures >= 2 })
	t.Run("without keys the cache is not ready and seals nothing", func(t *testing.T) {
		st := c.Status()
		if st.Ready || !strings.Contains(st.LastError, "ring.json") {
			t.Fatalf("Status = %+v", st)
		}
		if _, err := c.Keyring().Seal(nil, []byte("x"), crypto.TypeString, crypto.ModeRandom, nil); !errors.Is(err, crypto.ErrNoKey) {
			t.Fatalf("Seal error = %v, want ErrNoKey", err)
		}
	})
	if _, err := localkeys.Init(path, mk); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ring was loaded", func() bool { return c.Status().Ready })
	if st := c.Status(); st.ConsecutiveFailures != 0 || st.Primary != 1 {
		t.Fatalf("Status = %+v", st)
	}
	kinds := events.kinds()
	if kinds[0] != crypto.EventError || !slices.Contains(kinds, crypto.EventLoaded) {
		t.Fatalf("events = %v", kinds)
	}
}

func mustDecode(t *testing.T, sealed []byte) []byte {
	t.Helper()
	raw, err := encodingRaw(sealed)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
