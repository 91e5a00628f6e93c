package awskeys

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Defaults applied by Options when a field is zero.
const (
	DefaultCallTimeout = 5 * time.Second
	DefaultMaxAttempts = 3
	// DefaultCMKCheckInterval: a daily check costs 10,000 sidecars 10,000
	// KMS calls a day ($0.03); the rotation job, not the sidecar, follows
	// a CMK rotation, so the check is only an early hint.
	DefaultCMKCheckInterval = 24 * time.Hour
	// DefaultUnwrapConcurrency is Options.UnwrapConcurrency's default: well
	// under KMS's shared Decrypt quota even for a fleet starting together.
	DefaultUnwrapConcurrency = 8
	// SecretSizeLimit is Secrets Manager's limit on a secret value, in bytes.
	SecretSizeLimit = 65536
	// RingSizeWarnPercent is how full (percent of MaxRingBytes) a ring may get
	// before every write warns.
	RingSizeWarnPercent = 80
)

// Options configures the AWS clients. Credentials always come from the standard
// aws-sdk-go-v2 chain (environment, shared config, web identity / IRSA, container
// and instance metadata); endpoints may also come from the SDK's own
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL_SECRETS_MANAGER
// variables, which an explicit endpoint here overrides.
type Options struct {
	// Region of the KMS key and the secret; empty = the SDK chain's region.
	Region string
	// KMSKeyID names the CMK (key id, key ARN, alias name or alias ARN). Init needs
	// it; Rotate uses it when set, else the CMK recorded in the ring. The Provider
	// does not need it.
	KMSKeyID string
	// SecretID names the key-ring secret (name or ARN). Init needs a name.
	SecretID string
	// Endpoint overrides both services' endpoint (emulators, VPC endpoints).
	Endpoint string
	// KMSEndpoint and SecretsEndpoint override one service each; they win over Endpoint.
	KMSEndpoint     string
	SecretsEndpoint string
	// CallTimeout bounds each API call including its retries (default 5s).
	CallTimeout time.Duration
	// MaxAttempts is the SDK's attempts per call, first try included (default 3).
	MaxAttempts int
	// CMKCheckInterval is how often the Provider asks KMS whether the CMK rotated
	// (one ListKeyRotations call); 0 disables the check. DefaultCMKCheckInterval is
	// what configuration should default to.
	CMKCheckInterval time.Duration
	// MaxRingBytes is the largest ring secret this package writes (default and
	// upper bound SecretSizeLimit, Secrets Manager's own limit). A write above
	// it is refused with ErrRingTooLarge; above RingSizeWarnPercent of it the
	// write goes ahead with a warning (log event ring_size_warning and
	// Status.Notices). Tests and cautious operators set it lower.
	MaxRingBytes int
	// UnwrapConcurrency bounds the KMS Decrypt calls a cold start makes at
	// once (default DefaultUnwrapConcurrency).
	UnwrapConcurrency int
	// Registerer receives fieldseal_keys_provider_calls_total (nil = not registered).
	Registerer prometheus.Registerer
	// Logger receives operator events (CMK rotation seen); zero value = silent.
	Logger zerolog.Logger
	// Now is the clock for key creation dates and check intervals (nil = time.Now).
	Now func() time.Time
	// BeforeWrite, when set, is called by every command that writes the
	// ring (Init, RotateIf, RotateIfCMKRotated, RotateLookup, Retire,
	// SetMinVersion, Destroy, RestoreBackup) once the new ring is built and
	// sealed and before it is written, with the ring as it is (nil when the
	// secret is created) and as it will be: VersionID is the secret version
	// the write will create. An error from it aborts the command with
	// nothing written; `fieldseal keys` uses it to record the change in the
	// audit trail, durably, before making it. A write that loses a race to
	// another writer is built again from the winner's ring, and BeforeWrite
	// is called again for it: a VersionID that never became current is such
	// an attempt. A command that changes nothing does not call it.
	BeforeWrite func(ctx context.Context, prev, next *Status) error
}

// clients is what every operation here needs: the two service clients, the
// options with defaults applied, and the canonical names for messages.
type clients struct {
	opts    Options
	kms     *kms.Client
	sm      *secretsmanager.Client
	metrics *metrics
	idle    *idleConns
}

// close releases idle connections; the clients stay usable.
func (c *clients) close() { c.idle.close() }

// idleConns remembers the HTTP transports built for the clients.
type idleConns struct {
	mu         sync.Mutex
	transports []*http.Transport
}

func (i *idleConns) track(t *http.Transport) {
	i.mu.Lock()
	i.transports = append(i.transports, t)
	i.mu.Unlock()
}

func (i *idleConns) close() {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, t := range i.transports {
		t.CloseIdleConnections()
	}
}

func newClients(ctx context.Context, opts Options) (*clients, error) {
	if opts.SecretID == "" {
		return nil, errors.New("aws key provider: secret id is required")
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRingBytes <= 0 || opts.MaxRingBytes > SecretSizeLimit {
		opts.MaxRingBytes = SecretSizeLimit
	}
	if opts.UnwrapConcurrency <= 0 {
		opts.UnwrapConcurrency = DefaultUnwrapConcurrency
	}
	var load []func(*config.LoadOptions) error
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	// An HTTP transport of our own, so that Close can release its idle
	// connections (and their goroutines) at shutdown.
	// The SDK may derive further clients from this one (AWS_CA_BUNDLE); each
	// build runs this option, so idle records the transport actually in use.
	idle := &idleConns{}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(idle.track)
	load = append(load, config.WithRetryMaxAttempts(opts.MaxAttempts), config.WithHTTPClient(httpClient))
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("aws key provider: load aws configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("aws key provider: no region: set keys.aws.region or AWS_REGION")
	}
	m := newMetrics(opts.Registerer)
	kmsEndpoint := first(opts.KMSEndpoint, opts.Endpoint)
	smEndpoint := first(opts.SecretsEndpoint, opts.Endpoint)
	c := &clients{opts: opts, metrics: m, idle: idle}
	c.kms = kms.NewFromConfig(cfg, func(o *kms.Options) {
		if kmsEndpoint != "" {
			o.BaseEndpoint = aws.String(kmsEndpoint)
		}
		o.APIOptions = append(o.APIOptions, m.apiOption)
	})
	c.sm = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if smEndpoint != "" {
			o.BaseEndpoint = aws.String(smEndpoint)
		}
		o.APIOptions = append(o.APIOptions, m.apiOption)
	})
	return c, nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// call runs fn under the per-call timeout.
func call[T any](ctx context.Context, c *clients, fn func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	return fn(ctx)
}
