package awskeys

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fieldseal/fieldseal/internal/motoserver"
)

// readRingDirect reads the ring secret with a plain client (not the code under test).
func readRingDirect(t *testing.T, smURL, secret string) *ring {
	t.Helper()
	r, err := parseRing([]byte(secretText(t, smURL, secret)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// plaintextOf unwraps a ring key with a plain KMS client, to compare data keys
// across re-wraps (test only: production code never exposes the plaintext).
func plaintextOf(t *testing.T, ctx context.Context, kmsURL, secret string, r *ring, k wrappedKey) []byte {
	t.Helper()
	out, err := kmsClient(kmsURL).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: k.Wrapped, KeyId: aws.String(k.CMKKeyID),
		EncryptionContext: r.keyContext(secret, k)})
	if err != nil {
		t.Fatalf("decrypt key v%d: %v", k.ID, err)
	}
	return out.Plaintext
}

func TestRotateIfCMKRotatedFollowsOnDemandRotation(t *testing.T) {
	ctx, url, opts := initRing(t)
	cmk, secret := opts.KMSKeyID, opts.SecretID
	t.Run("nothing happens while the CMK has not rotated", func(t *testing.T) {
		st, err := RotateIfCMKRotated(ctx, opts)
		if err != nil || st.Rotated || st.Primary != 1 {
			t.Fatalf("RotateIfCMKRotated = %+v, %v; want not rotated", st, err)
		}
	})
	before := readRingDirect(t, url, secret)
	v1 := plaintextOf(t, ctx, url, secret, before, before.Keys[0])

	_, err := kmsClient(url).RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(cmk)})
	if isUnsupported(err) {
		t.Skipf("emulator at %s does not implement RotateKeyOnDemand: %v", url, err)
	}
	if err != nil {
		t.Fatal(err)
	}

	// Concurrent followers converge on one new version.
	rotated := 0
	for _, st := range concurrently(t, 3, func() (*Status, error) { return RotateIfCMKRotated(ctx, opts) }) {
		if st.Rotated {
			rotated++
			if !slices.Equal(st.Rewrapped, []uint32{1}) {
				t.Fatalf("rewrapped %v, want [1]", st.Rewrapped)
			}
		}
	}
	t.Run("exactly one of the concurrent followers rotates", func(t *testing.T) {
		if rotated != 1 {
			t.Fatalf("%d followers rotated, want 1", rotated)
		}
	})
	after := readRingDirect(t, url, secret)
	t.Run("the ring re-wraps v1 under the rotated CMK and adds v2", func(t *testing.T) {
		if after.Primary != 2 || len(after.Keys) != 2 || after.CMKRotationSeen.IsZero() {
			t.Fatalf("ring after CMK rotation: primary %d, %d keys, rotation seen %v", after.Primary, len(after.Keys), after.CMKRotationSeen)
		}
		k1, _ := after.key(1)
		if bytes.Equal(k1.Wrapped, before.Keys[0].Wrapped) {
			t.Fatal("v1 was not re-wrapped")
		}
		if !bytes.Equal(plaintextOf(t, ctx, url, secret, after, k1), v1) {
			t.Fatal("re-wrapping changed data key v1")
		}
	})
	t.Run("a second run finds the ring up to date", func(t *testing.T) {
		st, err := RotateIfCMKRotated(ctx, opts)
		if err != nil || st.Rotated || st.Primary != 2 {
			t.Fatalf("RotateIfCMKRotated = %+v, %v; want not rotated", st, err)
		}
	})
}

func TestRotateIfCMKRotatedFollowsAMovedAlias(t *testing.T) {
	for _, tc := range []struct {
		name          string
		kmsURL, smURL func(testing.TB) string
	}{
		{"on moto", motoURL, motoURL},
		{"on local-kms with moto's secrets manager", localKMSURL, motoURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kmsURL, smURL := tc.kmsURL(t), tc.smURL(t)
			ctx := testCtx(t)
			keyA, keyB := createCMK(t, kmsURL), createCMK(t, kmsURL)
			k := kmsClient(kmsURL)
			alias := motoserver.CreateAlias(t, k, keyA)
			secret := uniqueName(t)
			opts := testOptions("", secret, alias, nil)
			opts.KMSEndpoint, opts.SecretsEndpoint = kmsURL, smURL
			if _, err := Init(ctx, opts); err != nil {
				t.Fatal(err)
			}
			before := readRingDirect(t, smURL, secret)
			if before.Keys[0].CMKKeyID != keyA {
				t.Fatalf("v1 wrapped under %q, want %q", before.Keys[0].CMKKeyID, keyA)
			}
			v1 := plaintextOf(t, ctx, kmsURL, secret, before, before.Keys[0])
			if _, err := k.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(keyB)}); err != nil {
				t.Fatal(err)
			}
			st, err := RotateIfCMKRotated(ctx, opts)
			if err != nil || !st.Rotated {
				t.Fatalf("RotateIfCMKRotated after the alias moved = %+v, %v; want rotated", st, err)
			}
			after := readRingDirect(t, smURL, secret)
			for _, k := range after.Keys {
				if k.CMKKeyID != keyB {
					t.Fatalf("key v%d wrapped under %q after the alias moved to %q", k.ID, k.CMKKeyID, keyB)
				}
			}
			k1, _ := after.key(1)
			if !bytes.Equal(plaintextOf(t, ctx, kmsURL, secret, after, k1), v1) {
				t.Fatal("re-wrapping under the new CMK changed data key v1")
			}
			if _, kr := mustLoad(t, ctx, opts); kr.Primary() != 2 {
				t.Fatalf("load after re-wrap: primary %d, want 2", kr.Primary())
			}
		})
	}
}

func TestKMSPathOnLocalKMS(t *testing.T) {
	kmsURL, smURL := localKMSURL(t), motoURL(t)
	ctx := testCtx(t)
	secret := uniqueName(t)
	opts := testOptions("", secret, createCMK(t, kmsURL), nil)
	opts.KMSEndpoint, opts.SecretsEndpoint = kmsURL, smURL

	if _, err := Init(ctx, opts); err != nil {
		t.Fatalf("init with local-kms: %v", err)
	}
	if _, err := Rotate(ctx, opts); err != nil {
		t.Fatalf("rotate with local-kms: %v", err)
	}
	p := newTestProvider(t, opts)
	kr, err := p.Load(ctx, nil)
	t.Run("local-kms wraps and unwraps every version", func(t *testing.T) {
		if err != nil || kr.Primary() != 2 || !slices.Equal(keyringIDs(kr), []uint32{1, 2}) {
			t.Fatalf("load: %v", err)
		}
	})
	t.Run("local-kms refuses a wrapped key under another context", func(t *testing.T) {
		r := readRingDirect(t, smURL, secret)
		other := r.clone()
		other.RingID = newRingID()
		_, err := (&clients{opts: p.c.opts, kms: p.c.kms}).unwrap(ctx, other, secret, r.Keys[0])
		if !errors.Is(err, ErrWrongContext) {
			t.Fatalf("unwrap under another ring's context: %v, want ErrWrongContext", err)
		}
	})
	t.Run("a sidecar on an endpoint without ListKeyRotations turns its CMK check off", func(t *testing.T) {
		o := opts
		now := time.Now()
		o.Now = func() time.Time { return now }
		o.CMKCheckInterval = time.Nanosecond
		sp, kr := mustLoad(t, ctx, o)
		for range 2 {
			now = now.Add(time.Second)
			if changed, err := sp.Changed(ctx, kr); err != nil || changed {
				t.Fatalf("Changed on local-kms = %v, %v; want false, nil", changed, err)
			}
		}
		if !sp.cmkCheckOff {
			t.Fatal("the CMK check is still on")
		}
	})
	t.Run("without ListKeyRotations the CMK check says it cannot tell", func(t *testing.T) {
		_, err := RotateIfCMKRotated(ctx, opts)
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("RotateIfCMKRotated on local-kms: %v, want ErrUnsupported (local-kms has no ListKeyRotations)", err)
		}
		t.Logf("documented limitation: %v", err)
	})
}

func TestProviderCMKCheckTriggersOneRefresh(t *testing.T) {
	ctx, url, opts := initRing(t)
	cmk := opts.KMSKeyID
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	opts.Now = clock
	opts.CMKCheckInterval = time.Hour
	p, kr := mustLoad(t, ctx, opts)
	if _, err := kmsClient(url).RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(cmk)}); err != nil {
		if isUnsupported(err) {
			t.Skipf("emulator lacks RotateKeyOnDemand: %v", err)
		}
		t.Fatal(err)
	}
	changed := func() bool {
		t.Helper()
		c, err := p.Changed(ctx, kr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	advance(time.Hour) // the first check falls within one interval of the load
	if !changed() {
		t.Fatal("a CMK rotation newer than the ring was not reported after the check interval")
	}
	if changed() {
		t.Fatal("the same CMK rotation was reported twice")
	}
}

// TestRotationAfterAReplayedSecretVersionIssuesANewID: the text of the
// ring's first secret version (v1 only) is put back after v2 sealed values;
// a rotation then issues v3, never a second v2, because it reads the ids
// every kept version of the secret holds.
func TestRotationAfterAReplayedSecretVersionIssuesANewID(t *testing.T) {
	ctx, url, opts := initRing(t)
	first := secretText(t, url, opts.SecretID)
	if _, err := Rotate(ctx, opts); err != nil {
		t.Fatal(err)
	}
	motoserver.PutSecretString(t, smClient(url), opts.SecretID, first)
	st, err := Rotate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Primary != 3 {
		t.Fatalf("the rotation on the replayed ring issued v%d, want v3", st.Primary)
	}
}
