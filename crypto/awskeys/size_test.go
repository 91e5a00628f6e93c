package awskeys

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/crypto"
)

// The emulators do not enforce Secrets Manager's 65,536-byte limit, so the ring
// is held to a small MaxRingBytes here: the same check guards the real limit.
func TestRingSizeGuardOnMoto(t *testing.T) {
	ctx, url, opts := newRing(t)
	secret := opts.SecretID
	var logs bytes.Buffer
	opts.Logger = zerolog.New(&logs)
	st, err := Init(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Room for about three versions: the warning comes before the refusal.
	opts.MaxRingBytes = st.Size + 2*(st.Size/3)
	var warned bool
	var refused error
	for range 10 {
		st, err := Rotate(ctx, opts)
		if err != nil {
			refused = err
			break
		}
		warned = warned || len(st.Notices) > 0
	}
	t.Run("a ring close to the limit is written with a warning, logged and returned", func(t *testing.T) {
		if !warned || !strings.Contains(logs.String(), `"event":"ring_size_warning"`) {
			t.Fatalf("no warning before the limit; log: %s", logs.String())
		}
	})
	t.Run("a write over the limit is refused before PutSecretValue", func(t *testing.T) {
		if !errors.Is(refused, ErrRingTooLarge) || !strings.Contains(refused.Error(), "keys destroy") {
			t.Fatalf("err = %v, want ErrRingTooLarge naming keys destroy", refused)
		}
		if n := len(secretText(t, url, secret)); n > opts.MaxRingBytes {
			t.Fatalf("the secret holds %d bytes, limit %d", n, opts.MaxRingBytes)
		}
	})
	t.Run("destroying an old version prunes it and makes room again", func(t *testing.T) {
		// v1 is the lookup version (the first rotation pinned it): it is
		// moved to the primary first, which adds no version to a full ring.
		if _, err := Destroy(ctx, opts, 1, crypto.Grace{}); !errors.Is(err, ErrLookupVersion) {
			t.Fatalf("destroy the lookup version: %v, want ErrLookupVersion", err)
		}
		if _, err := RotateLookup(ctx, opts); err != nil {
			t.Fatal(err)
		}
		if _, err := Destroy(ctx, opts, 1, crypto.Grace{}); err != nil {
			t.Fatal(err)
		}
		if _, err := Rotate(ctx, opts); err != nil {
			t.Fatalf("rotate after destroy: %v", err)
		}
	})
}
