package awskeys

import (
	"context"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
)

// Refresh latency against moto on 127.0.0.1 (the emulator's speed, not AWS's;
// it shows the provider's own overhead and the number of round trips).
//
//	eval "$(bash .ci/aws-emulators.sh)"
//	go test -run '^$' -bench . -benchtime 200ms ./crypto/awskeys/

// benchProvider is a provider on a ring of versions versions, and that ring
// as it loaded it.
func benchProvider(b *testing.B, versions int) (*Provider, *crypto.Keyring) {
	url := motoURL(b)
	ctx := context.Background()
	opts := testOptions(url, uniqueName(b), createCMK(b, url), nil)
	if _, err := Init(ctx, opts); err != nil {
		b.Fatal(err)
	}
	for range versions - 1 {
		if _, err := Rotate(ctx, opts); err != nil {
			b.Fatal(err)
		}
	}
	return mustLoad(b, ctx, opts)
}

// BenchmarkChangedUnchanged is the steady-state refresh: one DescribeSecret.
func BenchmarkChangedUnchanged(b *testing.B) {
	p, kr := benchProvider(b, 1)
	ctx := context.Background()
	for b.Loop() {
		if changed, err := p.Changed(ctx, kr); err != nil || changed {
			b.Fatal(changed, err)
		}
	}
}

// BenchmarkLoadOneNewVersion is the refresh after a rotation: one GetSecretValue
// and one Decrypt, the four older versions carried over.
func BenchmarkLoadOneNewVersion(b *testing.B) {
	p, full := benchProvider(b, 5)
	ctx := context.Background()
	var keys []*crypto.DataKey
	for _, v := range full.Versions() {
		if v.ID != full.Primary() {
			k, _ := full.Key(v.ID)
			keys = append(keys, k)
		}
	}
	prev, err := crypto.NewKeyring(keys, keys[0].ID(), "previous")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Load(ctx, prev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkColdLoadFiveVersions is start-up: one GetSecretValue, five Decrypts.
func BenchmarkColdLoadFiveVersions(b *testing.B) {
	p, _ := benchProvider(b, 5)
	ctx := context.Background()
	for b.Loop() {
		if _, err := p.Load(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyringRead is what a proxied request costs the key cache: no AWS call.
func BenchmarkKeyringRead(b *testing.B) {
	p, _ := benchProvider(b, 1)
	cache := keycache.New(p, keycache.Options{Interval: time.Minute})
	if err := cache.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if cache.Keyring() == nil {
			b.Fatal("no keyring")
		}
	}
}
