package crypto_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
)

// TestLifecycleChangeRules is the one table of changes every provider
// refuses: localkeys and awskeys call these checks and return their errors.
func TestLifecycleChangeRules(t *testing.T) {
	// A ring with v1..v4, primary v4; lookup as stored (0: the primary).
	tests := []struct {
		name       string
		check      func() error
		lookupErr  bool // ErrLookupVersion as well as ErrLifecycle
		refused    bool
		wantInText string
	}{
		{"an old version may go", func() error { return crypto.CheckRemove(2, true, 4, 0) }, false, false, ""},
		{"a version the ring does not hold may not", func() error { return crypto.CheckRemove(7, false, 4, 0) }, false, true, "no key v7"},
		{"the primary may not", func() error { return crypto.CheckRemove(4, true, 4, 1) }, false, true, "v4 is the primary; rotate first"},
		{"the lookup version may not", func() error { return crypto.CheckRemove(1, true, 4, 1) }, true, true, "rotate-lookup"},
		{"the primary is the lookup version when none is stored", func() error { return crypto.CheckRemove(4, true, 4, 0) }, false, true, "is the primary"},
		{"a minimum up to the lookup version is accepted", func() error { return crypto.CheckMinVersion(2, 4, 2) }, false, false, ""},
		{"a minimum above the primary is refused", func() error { return crypto.CheckMinVersion(5, 4, 0) }, false, true, "minimum v5 is above the primary v4"},
		{"a minimum above the lookup version is refused", func() error { return crypto.CheckMinVersion(3, 4, 2) }, true, true, "minimum v3: v2: version is the lookup version"},
		{"a minimum equal to the primary is accepted when it is the lookup version", func() error { return crypto.CheckMinVersion(4, 4, 0) }, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check()
			if !tt.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, crypto.ErrLifecycle) || errors.Is(err, crypto.ErrLookupVersion) != tt.lookupErr {
				t.Fatalf("err = %v; want ErrLifecycle, ErrLookupVersion %v", err, tt.lookupErr)
			}
			if !strings.Contains(err.Error(), tt.wantInText) {
				t.Errorf("err = %q, want it to say %q", err, tt.wantInText)
			}
		})
	}
}

func TestRingVersionsChanges(t *testing.T) {
	v := crypto.RingVersions{Primary: 4, Lookup: 2}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := map[uint32]time.Time{1: day, 2: day.Add(time.Hour), 3: day.Add(2 * time.Hour), 4: day.Add(3 * time.Hour)}
	var g crypto.Grace // none
	if changed, err := v.Retire(1, keys, g); err != nil || !changed {
		t.Fatalf("retire v1: %v %v", changed, err)
	}
	if changed, err := v.Retire(1, keys, g); err != nil || changed {
		t.Errorf("retire v1 again: changed %v, err %v; want no change", changed, err)
	}
	if _, err := v.Retire(2, keys, g); !errors.Is(err, crypto.ErrLookupVersion) {
		t.Errorf("retire the lookup version: %v", err)
	}
	if err := v.Destroy(3, keys, g); err != nil || len(v.Destroyed) != 1 || v.Destroyed[0] != 3 {
		t.Fatalf("destroy v3: %v, destroyed %v", err, v.Destroyed)
	}
	if changed, err := v.SetMinVersion(2, keys, g); err != nil || !changed || v.Live(1) || !v.Live(2) {
		t.Errorf("minimum v2: changed %v, err %v, v1 live %v, v2 live %v", changed, err, v.Live(1), v.Live(2))
	}
	if changed, _ := v.SetMinVersion(2, keys, g); changed {
		t.Error("the same minimum again reports a change")
	}
	c := v.Clone()
	c.Retired[0] = 9
	if v.Retired[0] != 1 || v.LookupVersion() != 2 || (&crypto.RingVersions{Primary: 4}).LookupVersion() != 4 {
		t.Errorf("clone shares its slices, or the lookup version is wrong: %+v", v)
	}
	if err := v.Check(map[uint32]bool{1: true, 2: true, 4: true}); err != nil {
		t.Errorf("check: %v", err)
	}
}

// TestGraceAfterRotation: a version that stopped being primary (when the
// next version was created) less than the grace period ago may not be
// retired, destroyed or put below the minimum: sidecars that have not
// refreshed since still seal under it.
func TestGraceAfterRotation(t *testing.T) {
	rotated := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	keys := map[uint32]time.Time{1: rotated.Add(-24 * time.Hour), 2: rotated, 3: rotated.Add(time.Hour)}
	ring := func() *crypto.RingVersions { return &crypto.RingVersions{Primary: 3} }
	soon := crypto.Grace{Period: crypto.DefaultGrace, Now: rotated.Add(10 * time.Minute)}
	later := crypto.Grace{Period: crypto.DefaultGrace, Now: rotated.Add(time.Hour + crypto.DefaultGrace)}
	tests := []struct {
		name    string
		change  func() error
		refused bool
	}{
		{"retiring the version primary until 10 minutes ago is refused", func() error { _, err := ring().Retire(1, keys, soon); return err }, true},
		{"destroying it is refused", func() error { return ring().Destroy(1, keys, soon) }, true},
		{"a minimum above it is refused", func() error { _, err := ring().SetMinVersion(2, keys, soon); return err }, true},
		{"retiring it once the grace period is over is accepted", func() error { _, err := ring().Retire(1, keys, later); return err }, false},
		{"a zero period accepts it at once", func() error { return ring().Destroy(1, keys, crypto.Grace{Now: soon.Now}) }, false},
		{"a version that stopped being primary before is not held by a later rotation", func() error {
			_, err := ring().Retire(1, keys, crypto.Grace{Period: crypto.DefaultGrace, Now: rotated.Add(time.Hour + 10*time.Minute)})
			return err
		}, false},
		{"the minimum already above the version in grace is not refused again", func() error {
			r := ring()
			r.MinVersion = 2
			_, err := r.SetMinVersion(2, keys, soon)
			return err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.change()
			if !tt.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, crypto.ErrGrace) || !errors.Is(err, crypto.ErrLifecycle) {
				t.Fatalf("err = %v, want ErrGrace within ErrLifecycle", err)
			}
			for _, want := range []string{"v1", "2026-01-01T12:00:00Z", "--grace"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to name %q", err, want)
				}
			}
		})
	}
}

// TestNextIDStopsAtTheHeaderLimit: a key id is 4 bytes in a sealed value's
// header; the version after 4294967295 would wrap to 0 and be issued twice.
func TestNextIDStopsAtTheHeaderLimit(t *testing.T) {
	for _, tt := range []struct {
		highest, want uint32
		err           error
	}{
		{0, 1, nil},
		{41, 42, nil},
		{math.MaxUint32 - 1, math.MaxUint32, nil},
		{math.MaxUint32, 0, crypto.ErrKeyIDsExhausted},
	} {
		got, err := crypto.NextID(tt.highest)
		if got != tt.want || !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
			t.Errorf("NextID(%d) = %d, %v; want %d, %v", tt.highest, got, err, tt.want, tt.err)
		}
	}
}
