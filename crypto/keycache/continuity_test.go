package keycache_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// TestRingThatIsNoSuccessorIsNotServed: a ring file replaced by an older
// copy of itself, or by a re-created ring, is read and refused; the ring
// in service stays, the refusal is counted by reason and shown in Status
// until a ring that follows on is read.
func TestRingThatIsNoSuccessorIsNotServed(t *testing.T) {
	path, mk := localRing(t)
	reg := prometheus.NewRegistry()
	var events eventLog
	c := keycache.New(localkeys.New(path, mk), keycache.Options{Observer: monitor(reg, nil), OnEvent: events.add})
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.Rotate(path, mk); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	inService := c.Keyring()
	rotated, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(reason string) float64 {
		return sidecartest.Gather(t, reg).Sum("fieldseal_keys_ring_refused_total", map[string]string{"reason": reason})
	}

	t.Run("an older copy of the ring is refused and the ring in service stays", func(t *testing.T) {
		if err := os.WriteFile(path, old, 0o600); err != nil {
			t.Fatal(err)
		}
		err := c.Refresh(ctx)
		var ce *crypto.ContinuityError
		if !errors.As(err, &ce) || ce.Reason != crypto.ReasonPrimaryBack {
			t.Fatalf("Refresh = %v, want a primary_back refusal", err)
		}
		if c.Keyring() != inService || c.Keyring().Primary() != 2 {
			t.Fatal("the older ring replaced the one in service")
		}
		if st := c.Status(); !st.Ready || !strings.HasPrefix(st.RingRefused, crypto.ReasonPrimaryBack) {
			t.Fatalf("Status = %+v, want ready with the refusal", st)
		}
		if got := refused(crypto.ReasonPrimaryBack); got != 1 {
			t.Fatalf("refusals counted: %v, want 1", got)
		}
		if events.count(keycache.EventError) != 1 {
			t.Fatalf("events %v, want one error", events.kinds())
		}
	})
	t.Run("a re-created ring is refused", func(t *testing.T) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if _, err := localkeys.Init(path, mk); err != nil {
			t.Fatal(err)
		}
		var ce *crypto.ContinuityError
		if err := c.Refresh(ctx); !errors.As(err, &ce) || ce.Reason != crypto.ReasonRingID {
			t.Fatalf("Refresh = %v, want a ring_id refusal", err)
		}
		if c.Keyring() != inService || refused(crypto.ReasonRingID) != 1 {
			t.Fatal("the re-created ring was served, or its refusal not counted")
		}
	})
	t.Run("the ring that follows on is served again and the refusal clears", func(t *testing.T) {
		if err := os.WriteFile(path, rotated, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := localkeys.Rotate(path, mk); err != nil {
			t.Fatal(err)
		}
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if st := c.Status(); c.Keyring().Primary() != 3 || st.RingRefused != "" || st.LastError != "" {
			t.Fatalf("primary v%d, Status %+v", c.Keyring().Primary(), st)
		}
	})
}
