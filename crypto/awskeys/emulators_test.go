package awskeys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// The tests talk to real emulators. moto_server (KMS and Secrets Manager) is
// the one .ci/aws-emulators.sh started, or else one this test binary starts
// itself from PATH (motoserver.Shared). local-kms, for the tests that check
// the KMS calls against a second emulator, comes only from the script:
//
//	eval "$(bash .ci/aws-emulators.sh)" && go test ./crypto/awskeys/
//
// Outside CI a missing emulator skips the test with that hint; with CI=true it fails.

const testRegion = "us-east-1"

func TestMain(m *testing.M) {
	// Static test credentials through the standard chain (environment), and no
	// shared config or instance metadata lookups from the developer's machine.
	motoserver.IsolateAWSEnv(testRegion)
	os.Exit(motoserver.RunShared(m))
}

func motoURL(t testing.TB) string     { return motoserver.Shared(t) }
func localKMSURL(t testing.TB) string { return motoserver.LocalKMS(t) }

var uniq atomic.Int64

// uniqueName gives every test its own secret on the shared emulator.
func uniqueName(t testing.TB) string {
	return fmt.Sprintf("fieldseal-test/%s/%d-%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano(), uniq.Add(1))
}

// testOptions are the options of a provider talking to the emulators. The
// SDK may retry (3 attempts, as in production): moto closes keep-alive
// connections on its own schedule, and a call that raced such a close
// failed a CI run with "use of closed network connection", which the SDK
// retries as a transient error. Errors the tests expect (not found, wrong
// context, access denied) are not retryable, so they still come at once;
// a test of an unreachable endpoint sets MaxAttempts 1.
func testOptions(endpoint, secret, cmk string, reg prometheus.Registerer) Options {
	return Options{
		Region: testRegion, Endpoint: endpoint, SecretID: secret, KMSKeyID: cmk,
		CallTimeout: 5 * time.Second, MaxAttempts: 3, Registerer: reg,
	}
}

// newRing is the options of a ring not made yet on the shared moto_server,
// under a new CMK and a new secret (opts.KMSKeyID, opts.SecretID); url is
// moto's.
func newRing(t *testing.T) (ctx context.Context, url string, opts Options) {
	t.Helper()
	url = motoURL(t)
	return testCtx(t), url, testOptions(url, uniqueName(t), createCMK(t, url), nil)
}

// initRing is newRing's ring, made.
func initRing(t *testing.T) (ctx context.Context, url string, opts Options) {
	t.Helper()
	ctx, url, opts = newRing(t)
	if _, err := Init(ctx, opts); err != nil {
		t.Fatal(err)
	}
	return ctx, url, opts
}

func kmsClient(endpoint string) *kms.Client {
	return motoserver.KMS(endpoint, testRegion, nil)
}

func smClient(endpoint string) *secretsmanager.Client {
	return motoserver.SecretsManager(endpoint, testRegion, nil)
}

// createCMK makes a symmetric encryption key and returns its ARN.
func createCMK(t testing.TB, endpoint string) string {
	t.Helper()
	_, arn := motoserver.CreateCMK(t, kmsClient(endpoint))
	return arn
}

// secretText is the ring secret's text as the emulator at url holds it,
// read with a plain client (not the code under test).
func secretText(t testing.TB, url, secret string) string {
	t.Helper()
	return motoserver.SecretString(t, smClient(url), secret)
}

// calls sums fieldseal_keys_provider_calls_total for one operation (all results).
func calls(t testing.TB, reg *prometheus.Registry, operation string) int {
	t.Helper()
	return int(sidecartest.Gather(t, reg).Sum("fieldseal_keys_provider_calls_total", map[string]string{"operation": operation}))
}

// totalCalls sums every AWS attempt counted.
func totalCalls(t testing.TB, reg *prometheus.Registry) int {
	t.Helper()
	return int(sidecartest.Gather(t, reg).Sum("fieldseal_keys_provider_calls_total", nil))
}

func isUnsupported(err error) bool { return errors.Is(classify(err), ErrUnsupported) }

// newTestProvider builds a Provider that is closed when the test ends;
// failing to build it fails the test.
func newTestProvider(t testing.TB, opts Options) *Provider {
	t.Helper()
	p, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// mustLoad builds a provider (closed when the test ends) and loads its
// ring; either failing fails the test.
func mustLoad(t testing.TB, ctx context.Context, opts Options) (*Provider, *crypto.Keyring) {
	t.Helper()
	p := newTestProvider(t, opts)
	kr, err := p.Load(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, kr
}

// mustStatus is ReadStatus; its error fails the test.
func mustStatus(t testing.TB, ctx context.Context, opts Options) *Status {
	t.Helper()
	st, err := ReadStatus(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// concurrently runs write n times at once, as n processes sharing one ring
// would, and returns each one's status in turn; any error fails the test.
func concurrently(t testing.TB, n int, write func() (*Status, error)) []*Status {
	t.Helper()
	var wg sync.WaitGroup
	sts, errs := make([]*Status, n), make([]error, n)
	for i := range n {
		wg.Go(func() { sts[i], errs[i] = write() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%d concurrent writes: %v", n, err)
	}
	return sts
}
