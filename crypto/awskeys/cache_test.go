package awskeys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// refreshAll runs n concurrent Refresh calls and returns their errors joined.
func refreshAll(ctx context.Context, c *keycache.Cache, n int) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = c.Refresh(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestCacheOverProviderMakesOneUnwrapPerVersion(t *testing.T) {
	ctx, url, opts := initRing(t)
	reg := prometheus.NewRegistry()
	if _, err := Rotate(ctx, opts); err != nil {
		t.Fatal(err)
	}
	opts.Registerer = reg // count only the sidecar's calls
	p := newTestProvider(t, opts)
	cache := keycache.New(p, keycache.Options{Interval: time.Minute})

	t.Run("100 concurrent first refreshes read the secret once and unwrap each version once", func(t *testing.T) {
		if err := refreshAll(ctx, cache, 100); err != nil {
			t.Fatal(err)
		}
		if n := calls(t, reg, "GetSecretValue"); n != 1 {
			t.Fatalf("GetSecretValue calls = %d, want 1", n)
		}
		if n := calls(t, reg, "Decrypt"); n != 3 {
			t.Fatalf("Decrypt calls = %d, want 3 (one per version, one for the metadata seal)", n)
		}
		if kr := cache.Keyring(); kr == nil || kr.Primary() != 2 {
			t.Fatal("cache has no keyring with primary v2 after refresh")
		}
	})
	t.Run("steady state makes no AWS call per request", func(t *testing.T) {
		before := totalCalls(t, reg)
		for range 10_000 { // 10,000 proxied requests each read the keyring
			if cache.Keyring() == nil {
				t.Fatal("keyring vanished")
			}
		}
		if n := totalCalls(t, reg) - before; n != 0 {
			t.Fatalf("%d AWS calls for 10,000 keyring reads, want 0", n)
		}
	})
	t.Run("a forced refresh of an unchanged ring re-reads the secret and unwraps nothing", func(t *testing.T) {
		get, decrypt := calls(t, reg, "GetSecretValue"), calls(t, reg, "Decrypt")
		if err := cache.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if calls(t, reg, "GetSecretValue")-get != 1 || calls(t, reg, "Decrypt") != decrypt {
			t.Fatalf("forced refresh: GetSecretValue +%d Decrypt +%d; want +1 +0",
				calls(t, reg, "GetSecretValue")-get, calls(t, reg, "Decrypt")-decrypt)
		}
	})
	t.Run("periodic refreshes of an unchanged ring cost one DescribeSecret each and no KMS call", func(t *testing.T) {
		// A second cache over the same provider, loaded, then run with a short
		// interval until it has checked a few times.
		periodic := keycache.New(p, keycache.Options{Interval: 20 * time.Millisecond})
		if err := periodic.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		describe, get, decrypt := calls(t, reg, "DescribeSecret"), calls(t, reg, "GetSecretValue"), calls(t, reg, "Decrypt")
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { periodic.Run(runCtx); close(done) }()
		defer func() { stop(); <-done }() // also when Poll fails the test
		testproc.Poll(t, 20*time.Second, func() error {
			if n := calls(t, reg, "DescribeSecret") - describe; n < 3 {
				return fmt.Errorf("periodic refresh made %d DescribeSecret calls, want at least 3", n)
			}
			return nil
		})
		stop()
		<-done
		if calls(t, reg, "GetSecretValue") != get || calls(t, reg, "Decrypt") != decrypt {
			t.Fatalf("periodic refresh of an unchanged ring: GetSecretValue +%d Decrypt +%d; want +0 +0",
				calls(t, reg, "GetSecretValue")-get, calls(t, reg, "Decrypt")-decrypt)
		}
	})
	t.Run("after a rotation 100 concurrent refreshes unwrap only the new version once", func(t *testing.T) {
		if _, err := Rotate(ctx, Options{Region: opts.Region, Endpoint: url, SecretID: opts.SecretID, MaxAttempts: 3}); err != nil {
			t.Fatal(err)
		}
		get, decrypt := calls(t, reg, "GetSecretValue"), calls(t, reg, "Decrypt")
		if err := refreshAll(ctx, cache, 100); err != nil {
			t.Fatal(err)
		}
		// The new version, and the new metadata seal.
		if calls(t, reg, "GetSecretValue")-get != 1 || calls(t, reg, "Decrypt")-decrypt != 2 {
			t.Fatalf("after rotation: GetSecretValue +%d Decrypt +%d; want +1 +2",
				calls(t, reg, "GetSecretValue")-get, calls(t, reg, "Decrypt")-decrypt)
		}
		if cache.Keyring().Primary() != 3 {
			t.Fatalf("primary = %d, want 3", cache.Keyring().Primary())
		}
	})
}

func TestCacheKeepsServingThroughAnOutage(t *testing.T) {
	moto := motoserver.Start(t)
	ctx := testCtx(t)
	secret := uniqueName(t)
	opts := testOptions(moto.URL, secret, createCMK(t, moto.URL), nil)
	if _, err := Init(ctx, opts); err != nil {
		t.Fatal(err)
	}
	ringJSON := secretText(t, moto.URL, secret)
	p := newTestProvider(t, opts)
	cache := keycache.New(p, keycache.Options{Interval: time.Minute})
	if err := cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	loaded := cache.Keyring()

	moto.Stop()
	t.Run("with the emulator down the cached keyring still serves and refresh fails", func(t *testing.T) {
		err := cache.Refresh(ctx)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("refresh during outage: %v, want ErrUnavailable", err)
		}
		if cache.Keyring() != loaded {
			t.Fatal("the cache dropped its keyring during the outage")
		}
		if st := cache.Status(); st.ConsecutiveFailures < 1 || st.LastError == "" {
			t.Fatalf("status during outage does not show the failure: %+v", st)
		}
	})

	// moto keeps its state in memory, so a restarted moto is empty: re-create the
	// secret with the same ring (as a restored backup would). The CMK cannot be
	// restored (moto cannot import key material), which the provider tolerates
	// because it reuses data keys it already holds by id and only unwraps new ones.
	moto.Restart()
	motoserver.CreateSecretString(t, smClient(moto.URL), secret, ringJSON)
	t.Run("after the emulator is back the next refresh succeeds", func(t *testing.T) {
		if err := cache.Refresh(ctx); err != nil {
			t.Fatalf("refresh after restart: %v", err)
		}
		if st := cache.Status(); st.ConsecutiveFailures != 0 || !st.Ready {
			t.Fatalf("status after recovery: %+v", st)
		}
		if cache.Keyring().Revision() == loaded.Revision() {
			t.Fatal("the refresh after restart did not load the restored secret version")
		}
		k1a, _ := loaded.Key(1)
		k1b, _ := cache.Keyring().Key(1)
		if k1a != k1b {
			t.Fatal("data key v1 was not carried over across the outage")
		}
	})
	t.Run("a rotation after the restart is refused: the CMK of the metadata seal is gone", func(t *testing.T) {
		// The restarted moto lost the CMK, so nobody can check the ring's
		// metadata seal any more; building on an unchecked ring would let an
		// edited ring be re-sealed, so the rotator fails closed. (A rotation
		// reaching the provider is TestKeyRingLifecycleOnMoto's.)
		o := opts
		o.KMSKeyID = createCMK(t, moto.URL)
		if _, err := Rotate(ctx, o); !errors.Is(err, ErrNotFound) {
			t.Fatalf("rotate with the seal's CMK gone: %v, want ErrNotFound", err)
		}
		if cache.Keyring().Primary() != 1 {
			t.Fatalf("primary = %d, want 1", cache.Keyring().Primary())
		}
	})
}

func TestCacheStartingWithoutAWSIsNotReady(t *testing.T) {
	down := "http://" + testproc.FreeAddr(t) // nothing listens there
	ctx := testCtx(t)
	opts := testOptions(down, "pii/ring", "", nil)
	opts.MaxAttempts = 1 // connection refused is retryable: no backoff here
	p := newTestProvider(t, opts)
	cache := keycache.New(p, keycache.Options{Interval: time.Minute})
	err := cache.Refresh(ctx)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("first refresh with AWS down: %v, want ErrUnavailable", err)
	}
	if cache.Keyring() != nil {
		t.Fatal("a keyring appeared although nothing was loaded")
	}
	if cache.Status().Ready {
		t.Fatal("cache reports ready without keys")
	}
}
