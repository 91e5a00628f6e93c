package crypto_test

import (
	"errors"
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
)

// lcRing builds a ring of ids (primary: the highest) under seed with lc.
func lcRing(t *testing.T, seed string, lc crypto.Lifecycle, ids ...uint32) *crypto.Keyring {
	t.Helper()
	var keys []*crypto.DataKey
	for _, id := range ids {
		keys = append(keys, testKey(t, seed, id))
	}
	r, err := crypto.NewKeyringLifecycle(keys, ids[len(ids)-1], "rev-"+seed, lc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSuccessorRules: the changes the lifecycle commands make are accepted
// as the next state of a ring in service; a replayed, re-created or
// restored ring is refused with its reason.
func TestSuccessorRules(t *testing.T) {
	ring := crypto.Lifecycle{RingID: "r1"}
	with := func(f func(*crypto.Lifecycle)) crypto.Lifecycle {
		lc := ring
		f(&lc)
		return lc
	}
	inService := lcRing(t, "k", with(func(l *crypto.Lifecycle) { l.Retired = []uint32{1} }), 1, 2)
	tests := []struct {
		name   string
		next   *crypto.Keyring
		reason string // "" accepted
	}{
		{"the same ring is accepted", lcRing(t, "k", with(func(l *crypto.Lifecycle) { l.Retired = []uint32{1} }), 1, 2), ""},
		{"a rotation is accepted", lcRing(t, "k", with(func(l *crypto.Lifecycle) { l.Retired = []uint32{1} }), 1, 2, 3), ""},
		{"destroying a version is accepted", lcRing(t, "k", with(func(l *crypto.Lifecycle) { l.Retired, l.Destroyed = []uint32{1}, []uint32{1} }), 2), ""},
		{"raising the minimum is accepted", lcRing(t, "k", with(func(l *crypto.Lifecycle) { l.MinVersion = 2 }), 2), ""},
		{"another ring id is refused", lcRing(t, "k", crypto.Lifecycle{RingID: "r2", Retired: []uint32{1}}, 1, 2), crypto.ReasonRingID},
		{"an older copy without the primary is refused", lcRing(t, "k", ring, 1), crypto.ReasonPrimaryBack},
		{"a version gone without a destroy is refused", lcRing(t, "k", ring, 2), crypto.ReasonLostVersion},
		{"a retired version no longer retired is refused", lcRing(t, "k", ring, 1, 2), crypto.ReasonUnretired},
		{"a version id holding another key is refused", lcRing(t, "other", with(func(l *crypto.Lifecycle) { l.Retired = []uint32{1} }), 1, 2), crypto.ReasonKeyChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := crypto.CheckSuccessor(inService, tt.next)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *crypto.ContinuityError
			if !errors.As(err, &ce) || ce.Reason != tt.reason || !errors.Is(err, crypto.ErrDiscontinuous) {
				t.Fatalf("err = %v, want reason %s", err, tt.reason)
			}
		})
	}
	t.Run("a destroyed version that has a key again is refused", func(t *testing.T) {
		prev := lcRing(t, "k", with(func(l *crypto.Lifecycle) { l.Destroyed = []uint32{1} }), 2)
		var ce *crypto.ContinuityError
		if err := crypto.CheckSuccessor(prev, lcRing(t, "k", ring, 1, 2)); !errors.As(err, &ce) || ce.Reason != crypto.ReasonUndestroyed {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a lowered minimum is refused", func(t *testing.T) {
		prev := lcRing(t, "k", with(func(l *crypto.Lifecycle) { l.MinVersion = 2 }), 2)
		var ce *crypto.ContinuityError
		if err := crypto.CheckSuccessor(prev, lcRing(t, "k", ring, 1, 2)); !errors.As(err, &ce) || ce.Reason != crypto.ReasonMinLowered {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the first ring is accepted", func(t *testing.T) {
		if err := crypto.CheckSuccessor(nil, inService); err != nil {
			t.Fatal(err)
		}
	})
}
