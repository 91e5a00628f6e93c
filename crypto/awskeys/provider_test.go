package awskeys

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/motoserver"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func ids(st *Status) []uint32 {
	var out []uint32
	for _, v := range st.Versions {
		out = append(out, v.ID)
	}
	return out
}

func keyringIDs(kr *crypto.Keyring) []uint32 {
	var out []uint32
	for _, v := range kr.Versions() {
		out = append(out, v.ID)
	}
	slices.Sort(out)
	return out
}

func TestKeyRingLifecycleOnMoto(t *testing.T) {
	ctx, url, opts := newRing(t)
	cmk, secret := opts.KMSKeyID, opts.SecretID
	reg := prometheus.NewRegistry()
	opts.Registerer = reg

	st, err := Init(ctx, opts)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	t.Run("init creates version 1 wrapped under the CMK", func(t *testing.T) {
		if st.Primary != 1 || !slices.Equal(ids(st), []uint32{1}) || st.Versions[0].CMKKeyID != cmk {
			t.Fatalf("status after init = %+v", st)
		}
		// One data key and one metadata seal.
		if calls(t, reg, "GenerateDataKeyWithoutPlaintext") != 2 || calls(t, reg, "GenerateDataKey") != 0 {
			t.Fatal("init must use GenerateDataKeyWithoutPlaintext exactly twice (key and seal) and never GenerateDataKey")
		}
	})
	t.Run("the secret holds wrapped keys only, bound to the ring id and version", func(t *testing.T) {
		r := readRingDirect(t, url, secret)
		// Decrypting with the documented context works; without it, KMS refuses.
		if _, err := kmsClient(url).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: r.Keys[0].Wrapped,
			EncryptionContext: map[string]string{"fieldseal:ring": r.RingID, "fieldseal:version": "1"}}); err != nil {
			t.Fatalf("decrypt with the documented encryption context: %v", err)
		}
		if _, err := kmsClient(url).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: r.Keys[0].Wrapped}); err == nil {
			t.Fatal("wrapped key opened without its encryption context")
		}
	})
	t.Run("a second init is refused", func(t *testing.T) {
		_, err := Init(ctx, opts)
		if !errors.Is(err, ErrRingExists) {
			t.Fatalf("second init: err = %v, want ErrRingExists", err)
		}
	})

	p, kr1 := mustLoad(t, ctx, opts)
	t.Run("load unwraps the ring with the secret version as revision", func(t *testing.T) {
		if kr1.Primary() != 1 || kr1.Revision() != st.VersionID || !slices.Equal(keyringIDs(kr1), []uint32{1}) {
			t.Fatalf("keyring primary %d revision %q ids %v; status %+v", kr1.Primary(), kr1.Revision(), keyringIDs(kr1), st)
		}
	})
	t.Run("an unchanged secret is not reported as changed", func(t *testing.T) {
		changed, err := p.Changed(ctx, kr1)
		if err != nil || changed {
			t.Fatalf("Changed = %v, %v; want false, nil", changed, err)
		}
	})

	st2, err := Rotate(ctx, opts)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	t.Run("rotate adds version 2 and makes it primary", func(t *testing.T) {
		if !st2.Rotated || st2.Primary != 2 || !slices.Equal(ids(st2), []uint32{1, 2}) {
			t.Fatalf("status after rotate = %+v", st2)
		}
	})
	t.Run("after rotation the provider sees the change and unwraps only the new version", func(t *testing.T) {
		changed, err := p.Changed(ctx, kr1)
		if err != nil || !changed {
			t.Fatalf("Changed = %v, %v; want true, nil", changed, err)
		}
		before := calls(t, reg, "Decrypt")
		kr2, err := p.Load(ctx, kr1)
		if err != nil {
			t.Fatal(err)
		}
		// The new version, and the new ring's metadata seal.
		if got := calls(t, reg, "Decrypt") - before; got != 2 {
			t.Fatalf("Decrypt calls for one new version = %d, want 2 (key and seal)", got)
		}
		k1old, _ := kr1.Key(1)
		k1new, _ := kr2.Key(1)
		if k1old != k1new {
			t.Fatal("key v1 was not carried over from the previous keyring")
		}
		if kr2.Primary() != 2 || kr2.Revision() != st2.VersionID {
			t.Fatalf("keyring primary %d revision %q, want 2 %q", kr2.Primary(), kr2.Revision(), st2.VersionID)
		}
		// Values sealed before the rotation still open; new ones use v2.
		aad := crypto.AAD(nil, "email", "")
		old, err := kr1.Seal(nil, []byte("jane@example.com"), crypto.TypeString, crypto.ModeRandom, aad)
		if err != nil {
			t.Fatal(err)
		}
		pt, _, id, err := kr2.Open(nil, old, aad)
		if err != nil || string(pt) != "jane@example.com" || id != 1 {
			t.Fatalf("open a v1 value after rotation: %q v%d %v", pt, id, err)
		}
		fresh, err := kr2.Seal(nil, []byte("jane@example.com"), crypto.TypeString, crypto.ModeRandom, aad)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, id, err := kr2.Open(nil, fresh, aad); err != nil || id != 2 {
			t.Fatalf("a value sealed after rotation opened with v%d, %v; want v2", id, err)
		}
	})
	t.Run("status reads the ring without touching KMS", func(t *testing.T) {
		before := calls(t, reg, "Decrypt") + calls(t, reg, "DescribeKey")
		s := mustStatus(t, ctx, opts)
		if s.Primary != 2 || len(s.Versions) != 2 || calls(t, reg, "Decrypt")+calls(t, reg, "DescribeKey") != before {
			t.Fatalf("status = %+v", s)
		}
		var b strings.Builder
		if err := s.WriteText(&b, time.Now()); err != nil || !strings.Contains(b.String(), "v2") {
			t.Fatalf("status text %q, %v", b.String(), err)
		}
	})
}

func TestConcurrentRotationsLoseNoVersion(t *testing.T) {
	ctx, _, opts := initRing(t)
	const rotators = 5
	var primaries []uint32
	for _, st := range concurrently(t, rotators, func() (*Status, error) { return Rotate(ctx, opts) }) {
		primaries = append(primaries, st.Primary)
	}
	st := mustStatus(t, ctx, opts)
	if want := []uint32{1, 2, 3, 4, 5, 6}; !slices.Equal(ids(st), want) || st.Primary != 6 {
		t.Fatalf("after %d concurrent rotations: versions %v primary %d, want %v primary 6", rotators, ids(st), st.Primary, want)
	}
	slices.Sort(primaries)
	if !slices.Equal(primaries, []uint32{2, 3, 4, 5, 6}) {
		t.Fatalf("each rotator must add its own version; got primaries %v", primaries)
	}
	// Every version still unwraps.
	if _, kr := mustLoad(t, ctx, opts); kr.Primary() != 6 {
		t.Fatalf("load after concurrent rotations: primary %d, want 6", kr.Primary())
	}
}

func TestRingIdentityNotSecretNameBindsTheKeys(t *testing.T) {
	url := motoURL(t)
	ctx := testCtx(t)
	cmk := createCMK(t, url)
	src, dst, other := uniqueName(t), uniqueName(t), uniqueName(t)
	for _, name := range []string{src, other} {
		if _, err := Init(ctx, testOptions(url, name, cmk, nil)); err != nil {
			t.Fatal(err)
		}
	}
	sm := smClient(url)
	get := func(name string) string { return motoserver.SecretString(t, sm, name) }
	t.Run("a ring copied under another secret name opens", func(t *testing.T) {
		motoserver.CreateSecretString(t, sm, dst, get(src))
		p := newTestProvider(t, testOptions(url, dst, "", nil))
		if kr, err := p.Load(ctx, nil); err != nil || kr.Primary() != 1 {
			t.Fatalf("load of a copied ring: %v", err)
		}
	})
	t.Run("a wrapped key moved into another ring is refused with a clear error", func(t *testing.T) {
		a, _ := parseRing([]byte(get(src)))
		b, _ := parseRing([]byte(get(other)))
		b.Keys[0].Wrapped = a.Keys[0].Wrapped // the seal does not cover wrapped bytes; KMS refuses them
		body, _ := b.marshal()
		motoserver.PutSecretString(t, sm, other, body)
		p := newTestProvider(t, testOptions(url, other, "", nil))
		_, err := p.Load(ctx, nil)
		if !errors.Is(err, ErrWrongContext) {
			t.Fatalf("load: err = %v, want ErrWrongContext", err)
		}
		want := `kms Decrypt key v1 of secret "` + other + `": InvalidCiphertextException`
		if !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("error text %q does not start with %q", err, want)
		}
	})
	t.Run("an edited cmk fails the metadata seal, for the sidecar and the rotator", func(t *testing.T) {
		a, _ := parseRing([]byte(get(src)))
		a.CMK = "alias/somebody-elses-key"
		body, _ := a.marshal()
		motoserver.PutSecretString(t, sm, src, body)
		p := newTestProvider(t, testOptions(url, src, "", nil))
		if _, err := p.Load(ctx, nil); !errors.Is(err, crypto.ErrMetadataMAC) {
			t.Fatalf("load of an edited ring: %v, want ErrMetadataMAC", err)
		}
		if _, err := Rotate(ctx, testOptions(url, src, "", nil)); !errors.Is(err, crypto.ErrMetadataMAC) {
			t.Fatalf("rotate of an edited ring: %v, want ErrMetadataMAC", err)
		}
	})
}

func TestMissingSecretIsNotFound(t *testing.T) {
	url := motoURL(t)
	ctx := testCtx(t)
	p := newTestProvider(t, testOptions(url, uniqueName(t), "", nil))
	_, err := p.Load(ctx, nil)
	if !errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), "secretsmanager GetSecretValue secret ") {
		t.Fatalf("load of a missing secret: %v", err)
	}
}

func TestRingMadeAgainWhileAProviderRunsIsNotMixed(t *testing.T) {
	ctx, url, opts := initRing(t)
	secret := opts.SecretID
	p, old := mustLoad(t, ctx, opts)
	aad := crypto.AAD(nil, "email", "")
	sealed, err := old.Seal(nil, []byte("old@example.com"), crypto.TypeString, crypto.ModeRandom, aad)
	if err != nil {
		t.Fatal(err)
	}
	motoserver.ForceDeleteSecret(t, smClient(url), secret)
	if _, err := Init(ctx, opts); err != nil {
		t.Fatal(err)
	}
	t.Run("the running provider sees a change: the new ring has another version id", func(t *testing.T) {
		if changed, err := p.Changed(ctx, old); err != nil || !changed {
			t.Fatalf("Changed = %v, %v", changed, err)
		}
	})
	t.Run("key v1 of the new ring is unwrapped, not taken from the old ring", func(t *testing.T) {
		fresh, err := p.Load(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		kOld, _ := old.Key(1)
		kNew, _ := fresh.Key(1)
		if kOld == kNew {
			t.Fatal("the old ring's key v1 was reused for the new ring")
		}
		if _, _, _, err := fresh.Open(nil, sealed, aad); !errors.Is(err, crypto.ErrTampered) {
			t.Fatalf("an old value under the new ring: %v, want ErrTampered", err)
		}
	})
}

func TestConditionalRotationsAddOneVersion(t *testing.T) {
	ctx, _, opts := initRing(t)
	t.Run("a primary younger than the bound is left alone", func(t *testing.T) {
		before := mustStatus(t, ctx, opts)
		st, err := RotateIf(ctx, opts, func(p crypto.KeyInfo) bool { return time.Since(p.Created) > 24*time.Hour })
		if err != nil || st.Rotated || st.Primary != 1 || st.VersionID != before.VersionID {
			t.Fatalf("RotateIf(older than 24h) on a new ring = %+v, %v; want no change", st, err)
		}
	})
	t.Run("racing rotations on the same condition create exactly one version", func(t *testing.T) {
		sts := concurrently(t, 5, func() (*Status, error) {
			// The condition a sidecar over its max_seals under v1 uses.
			return RotateIf(ctx, opts, func(p crypto.KeyInfo) bool { return p.ID == 1 })
		})
		st := mustStatus(t, ctx, opts)
		if !slices.Equal(ids(st), []uint32{1, 2}) || st.Primary != 2 {
			t.Fatalf("versions %v primary v%d, want [1 2] primary v2", ids(st), st.Primary)
		}
		if n := len(slices.DeleteFunc(sts, func(st *Status) bool { return !st.Rotated })); n != 1 {
			t.Fatalf("%d callers report a rotation, want 1", n)
		}
	})
}
