package keycache_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// process is one sidecar's key cache and rotator over a shared ring file.
type process struct {
	cache  *keycache.Cache
	reg    *prometheus.Registry
	events *eventLog
}

// startProcess loads the ring at path into a new cache and runs a Rotator
// with policy; rotate false gives it no right to write the ring. now, if
// set, is the rotator's clock.
func startProcess(t *testing.T, path string, mk localkeys.MasterKey, policy keycache.RotationPolicy, rotate bool, now func() time.Time) *process {
	t.Helper()
	p := &process{reg: prometheus.NewRegistry(), events: &eventLog{}}
	m := monitor(p.reg, nil)
	p.cache = keycache.New(localkeys.New(path, mk), keycache.Options{Observer: m, OnEvent: p.events.add})
	if err := p.cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	opts := keycache.RotatorOptions{Policy: policy, Observer: m, OnEvent: p.events.add, Now: now}
	if rotate {
		opts.Rotate = func(ctx context.Context, cond func(crypto.KeyInfo) bool) (bool, error) {
			st, err := localkeys.RotateIf(path, mk, cond)
			return err == nil && st.Rotated, err
		}
	}
	runUntilCleanup(t, keycache.NewRotator(p.cache, opts).Run)
	return p
}

func (p *process) seal(t *testing.T, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for range n {
		v, err := p.cache.Keyring().Seal(nil, []byte("jane@example.com"), crypto.TypeString, crypto.ModeRandom, crypto.AAD(nil, "email", ""))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func (p *process) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	return sidecartest.Value(t, p.reg, name, labels)
}

func TestRotatorOnUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path, mk := localRing(t)
		a := startProcess(t, path, mk, keycache.RotationPolicy{MaxSeals: 3}, true, nil)
		b := startProcess(t, path, mk, keycache.RotationPolicy{MaxSeals: 3}, true, nil)

		old := a.seal(t, 2)
		time.Sleep(time.Minute)
		synctest.Wait()
		if p := a.cache.Keyring().Primary(); p != 1 {
			t.Fatalf("primary v%d after 2 of 3 seals, want v1", p)
		}
		if got := a.metric(t, "fieldseal_keys_seals_total", map[string]string{"version": "1"}); got != 2 {
			t.Fatalf("fieldseal_keys_seals_total{version=1} = %v, want 2", got)
		}

		// Both processes reach the bound under v1 before either checks:
		// one rotation between them.
		old = append(old, a.seal(t, 1)...)
		old = append(old, b.seal(t, 3)...)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		st, err := localkeys.ReadStatus(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Keys) != 2 || st.Primary != 2 {
			t.Fatalf("ring after both passed max_seals: %d versions, primary v%d; want 2, v2", len(st.Keys), st.Primary)
		}
		for _, p := range []*process{a, b} {
			if got := p.cache.Keyring().Primary(); got != 2 {
				t.Fatalf("a process seals under v%d after its rotation attempt, want v2", got)
			}
			if got := p.metric(t, "fieldseal_keys_rotation_due", map[string]string{"reason": "seals"}); got != 0 {
				t.Fatalf("rotation_due{seals} = %v after the rotation, want 0", got)
			}
		}
		rotated := a.metric(t, "fieldseal_keys_rotations_total", map[string]string{"result": "rotated"}) +
			b.metric(t, "fieldseal_keys_rotations_total", map[string]string{"result": "rotated"})
		notNeeded := a.metric(t, "fieldseal_keys_rotations_total", map[string]string{"result": "not_needed"}) +
			b.metric(t, "fieldseal_keys_rotations_total", map[string]string{"result": "not_needed"})
		if rotated != 1 || notNeeded != 1 {
			t.Fatalf("rotations: %v rotated, %v not needed; want 1 and 1", rotated, notNeeded)
		}
		if n := a.events.count(keycache.EventRotated) + b.events.count(keycache.EventRotated); n != 1 {
			t.Fatalf("%d rotated events, want 1", n)
		}
		// Values sealed under v1 by either process still open.
		for _, v := range old {
			if _, _, id, err := a.cache.Keyring().Open(nil, v, crypto.AAD(nil, "email", "")); err != nil || id != 1 {
				t.Fatalf("value under v%d after the rotation: %v", id, err)
			}
		}
	})
}

// agedProcess makes a ring, lets 91 days pass on the bubble's clock and
// starts a process whose policy rotates a primary older than 90 days;
// rotate as for startProcess.
func agedProcess(t *testing.T, rotate bool) (path string, p *process) {
	t.Helper()
	path, mk := localRing(t)
	time.Sleep(91 * 24 * time.Hour)
	return path, startProcess(t, path, mk, keycache.RotationPolicy{MaxAge: 90 * 24 * time.Hour}, rotate, nil)
}

func TestRotatorOnAge(t *testing.T) {
	t.Run("a process that may write the ring rotates it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, p := agedProcess(t, true)
			// The check interval plus at most one retry interval of random delay.
			time.Sleep(80 * time.Second)
			synctest.Wait()
			if got := p.cache.Keyring().Primary(); got != 2 {
				t.Fatalf("primary v%d after the primary passed max_age, want v2", got)
			}
			if got := p.events.kinds(); !slices.Contains(got, keycache.EventRotated) {
				t.Fatalf("events %v, want a rotated event", got)
			}
			// The new primary is young: no second rotation.
			time.Sleep(time.Hour)
			synctest.Wait()
			if st, _ := localkeys.ReadStatus(path); st.Primary != 2 || len(st.Keys) != 2 {
				t.Fatalf("an hour later: primary v%d, %d versions; want v2, 2", st.Primary, len(st.Keys))
			}
		})
	})
	t.Run("a process that may not write the ring reports it due once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, p := agedProcess(t, false)
			time.Sleep(5 * time.Minute)
			synctest.Wait()
			if st, _ := localkeys.ReadStatus(path); st.Primary != 1 || len(st.Keys) != 1 {
				t.Fatalf("ring primary v%d, %d versions: a report-only process changed it", st.Primary, len(st.Keys))
			}
			if got := p.metric(t, "fieldseal_keys_rotation_due", map[string]string{"reason": "age"}); got != 1 {
				t.Fatalf("rotation_due{age} = %v, want 1", got)
			}
			if n := p.events.count(keycache.EventRotationDue); n != 1 {
				t.Fatalf("%d rotation_due events over 30 checks, want 1", n)
			}
		})
	})
	t.Run("a young primary is not due", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path, mk := localRing(t)
			p := startProcess(t, path, mk, keycache.RotationPolicy{MaxAge: 90 * 24 * time.Hour, MaxSeals: 1000}, true, nil)
			p.seal(t, 10)
			time.Sleep(time.Hour)
			synctest.Wait()
			if got := p.cache.Keyring().Primary(); got != 1 {
				t.Fatalf("primary v%d, want v1", got)
			}
			if got := p.metric(t, "fieldseal_keys_rotation_due", map[string]string{"reason": "age"}); got != 0 {
				t.Fatalf("rotation_due{age} = %v, want 0", got)
			}
		})
	})
}
