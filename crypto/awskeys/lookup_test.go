package awskeys

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// rotateAsBefore adds a primary the way the release before lookup versions
// did: no lookup version is pinned, and the metadata seal is in the v1
// encoding, exactly as that release wrote it.
func rotateAsBefore(ctx context.Context, t *testing.T, opts Options) {
	t.Helper()
	c, err := newClients(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	_, err = c.update(ctx, "rotate", func(ctx context.Context, sv *secretVersion, r *ring) (bool, []uint32, error) {
		id := r.maxID() + 1
		k, err := c.newWrappedKey(ctx, opts.KMSKeyID, r, id)
		if err != nil {
			return false, nil, err
		}
		r.Keys, r.Primary = append(r.Keys, k), id
		return true, nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// loadRing is the ring a new provider loads (mustLoad).
func loadRing(ctx context.Context, t *testing.T, opts Options) *crypto.Keyring {
	t.Helper()
	_, kr := mustLoad(t, ctx, opts)
	return kr
}

func TestLookupVersionOnMoto(t *testing.T) {
	ctx, url, opts := initRing(t)
	secret := opts.SecretID
	rotateAsBefore(ctx, t, opts)
	stored := sidecartest.LookupProbe(t, loadRing(ctx, t, opts))

	t.Run("a ring rotated by the previous release seals under its primary", func(t *testing.T) {
		st, err := ReadStatus(ctx, opts)
		if err != nil || st.Lookup != 2 {
			t.Fatalf("status: lookup v%d (want the primary v2), %v", st.Lookup, err)
		}
		if kr := loadRing(ctx, t, opts); kr.Lookup() != 2 {
			t.Fatalf("Lookup() = %d", kr.Lookup())
		}
	})
	t.Run("routine rotations keep the lookup version", func(t *testing.T) {
		st, err := Rotate(ctx, opts)
		if err != nil || st.Primary != 3 || st.Lookup != 2 {
			t.Fatalf("rotate: %+v %v", st, err)
		}
		if got := sidecartest.LookupProbe(t, loadRing(ctx, t, opts)); !bytes.Equal(got, stored) {
			t.Fatalf("lookup value after rotation %s, want %s", got, stored)
		}
	})
	t.Run("the lookup version can be neither retired, destroyed nor put below the minimum", func(t *testing.T) {
		_, rerr := Retire(ctx, opts, 2, crypto.Grace{})
		_, derr := Destroy(ctx, opts, 2, crypto.Grace{})
		_, merr := SetMinVersion(ctx, opts, 3, crypto.Grace{})
		for _, err := range []error{rerr, derr, merr} {
			if !errors.Is(err, ErrLookupVersion) {
				t.Fatalf("err = %v, want ErrLookupVersion", err)
			}
		}
		if _, err := Retire(ctx, opts, 1, crypto.Grace{}); err != nil {
			t.Fatalf("retire v1 (not the lookup version): %v", err)
		}
	})
	t.Run("an edited lookup version fails the metadata seal", func(t *testing.T) {
		text := secretText(t, url, secret)
		edited := strings.Replace(text, `"lookup":2`, `"lookup":3`, 1)
		if edited == text {
			t.Fatal("no lookup member in the secret")
		}
		other := opts
		other.SecretID = uniqueName(t)
		motoserver.CreateSecretString(t, smClient(url), other.SecretID, edited)
		p := newTestProvider(t, other)
		if _, err := p.Load(ctx, nil); !errors.Is(err, crypto.ErrMetadataMAC) {
			t.Fatalf("Load = %v, want ErrMetadataMAC", err)
		}
	})
	t.Run("rotate-lookup moves it to the primary and the old value is still computable", func(t *testing.T) {
		st, err := RotateLookup(ctx, opts)
		if err != nil || st.Primary != 3 || st.Lookup != 3 || len(st.Versions) != 3 {
			t.Fatalf("rotate-lookup: %+v %v", st, err)
		}
		kr := loadRing(ctx, t, opts)
		if bytes.Equal(sidecartest.LookupProbe(t, kr), stored) {
			t.Fatal("the lookup value did not change")
		}
		prev, err := kr.ForLookup(2)
		if err != nil || !bytes.Equal(sidecartest.LookupProbe(t, prev), stored) {
			t.Fatalf("value under v2: %v", err)
		}
		if _, err := Destroy(ctx, opts, 2, crypto.Grace{}); err != nil {
			t.Fatalf("destroy v2 once the lookup moved: %v", err)
		}
	})
	t.Run("rotate-lookup when the lookup version is the primary writes nothing", func(t *testing.T) {
		before := mustStatus(t, ctx, opts)
		st, err := RotateLookup(ctx, opts)
		if err != nil || st.VersionID != before.VersionID || st.Lookup != 3 {
			t.Fatalf("rotate-lookup again: %+v %v (secret version before %s)", st, err, before.VersionID)
		}
	})
}

func TestParseRingLookupVersion(t *testing.T) {
	v2 := func(extra string) string {
		return strings.Replace(strings.Replace(validRing, "v1", "v2", 1), `"primary":2,`,
			`"primary":2,"ring_id":"r","metadata_seal":{"wrapped":"AQID","cmk_key_id":"arn:k"},`+extra, 1)
	}
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"a lookup version among the keys parses", v2(`"lookup":1,`), ""},
		{"a lookup version without a key is refused", v2(`"lookup":3,`), "lookup v3"},
		{"a retired lookup version is refused", v2(`"lookup":1,"retired":[1],`), "lookup v1"},
		{"a lookup version below the minimum is refused", v2(`"lookup":1,"min_version":2,`), "lookup v1"},
		{"a v1 ring with a lookup version is refused", strings.Replace(validRing, `"primary":2,`, `"primary":2,"lookup":1,`, 1), "fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRing([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil || r.Lookup != 1 || r.LookupVersion() != 1 {
					t.Fatalf("parseRing = %+v, %v", r, err)
				}
				return
			}
			if !errors.Is(err, ErrMalformedRing) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrMalformedRing mentioning %q", err, tc.wantErr)
			}
		})
	}
}
