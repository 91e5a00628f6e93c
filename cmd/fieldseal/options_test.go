package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/fieldmap"
)

// optionsConfig sets every key options.go maps, to a value other than its
// default.
const optionsConfig = `
upstream: http://127.0.0.1:3000/base
on_open_error: sealed
limits:
  max_body_bytes: 100
  max_response_bytes: 200
  upstream_timeout: 7s
  body_timeout: 9s
  max_idle_conns_per_host: 3
  idle_timeout: 11s
keys:
  provider: aws
  aws:
    region: eu-west-1
    kms_key_id: alias/pii
    secret_id: pii/ring
    endpoint: http://127.0.0.1:4566
    kms_endpoint: http://127.0.0.1:4567
    secretsmanager_endpoint: http://127.0.0.1:4568
    call_timeout: 9s
    max_attempts: 5
    cmk_check_interval: 0s
classes:
  email: {}
routes:
  - name: r
    methods: [POST]
    paths: [/customers]
    request: [{path: email, class: email}]
auth:
  issuer: https://issuer.example
  client_ids: [app]
  leeway: 10s
  jwks_timeout: 3s
`

func loadOptionsConfig(t *testing.T) (*config.Config, *fieldmap.Map) {
	t.Helper()
	cfg, err := config.Parse([]byte(optionsConfig), "options.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fm, err := fieldmap.Compile(cfg.FieldMap())
	if err != nil {
		t.Fatal(err)
	}
	return cfg, fm
}

func TestProxyOptionsCarryTheConfig(t *testing.T) {
	cfg, fm := loadOptionsConfig(t)
	opts, err := proxyOptions(cfg, fm)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Upstream.String() != "http://127.0.0.1:3000/base" || opts.Routes != fm || !opts.LeaveSealedOnOpenError ||
		opts.MaxBodyBytes != 100 || opts.MaxResponseBytes != 200 || opts.UpstreamTimeout != 7*time.Second || opts.BodyTimeout != 9*time.Second || opts.MaxIdleConnsPerHost != 3 || opts.IdleConnTimeout != 11*time.Second {
		t.Fatalf("options %+v", opts)
	}
	if opts.Routes.Match("POST", "/customers") == nil {
		t.Error("the compiled field map does not protect the configured route")
	}
}

func TestAWSOptionsCarryTheKeysSection(t *testing.T) {
	cfg, _ := loadOptionsConfig(t)
	reg := prometheus.NewRegistry()
	o := awsOptions(cfg.Keys, reg, zerolog.Nop())
	if o.Region != "eu-west-1" || o.KMSKeyID != "alias/pii" || o.SecretID != "pii/ring" || o.Endpoint != "http://127.0.0.1:4566" ||
		o.KMSEndpoint != "http://127.0.0.1:4567" || o.SecretsEndpoint != "http://127.0.0.1:4568" || o.CallTimeout != 9*time.Second ||
		o.MaxAttempts != 5 || o.CMKCheckInterval != 0 || o.Registerer != reg {
		t.Fatalf("aws options %+v", o)
	}
}

func TestAuthOptionsAddTheProcessDependencies(t *testing.T) {
	cfg, _ := loadOptionsConfig(t)
	reg := prometheus.NewRegistry()
	o := authOptions(*cfg.Auth, reg, zerolog.Nop())
	if o.Issuer != "https://issuer.example" || len(o.ClientIDs) != 1 || o.Leeway != 10*time.Second || o.HTTPTimeout != 3*time.Second || o.Registerer != reg {
		t.Fatalf("auth options %+v", o)
	}
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestRotatorOptions(t *testing.T) {
	writable := filepath.Join(t.TempDir(), "ring.json")
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	rotate := keycache.RotateFunc(func(context.Context, func(crypto.KeyInfo) bool) (bool, error) { return true, nil })
	bound := config.Rotation{MaxSeals: 10, MaxAge: time.Hour}
	for _, tc := range []struct {
		name     string
		provider config.Provider
		ring     string
		rotation config.Rotation
		rotates  bool
	}{
		{"auto: a local sidecar that can write the ring's directory rotates it", config.ProviderLocal, writable, withSidecar(bound, config.RotateAuto), true},
		{"auto: a local sidecar on a read-only ring reports only", config.ProviderLocal, filepath.Join(readOnly, "ring.json"), withSidecar(bound, config.RotateAuto), os.Geteuid() == 0},
		{"auto: an aws sidecar reports only", config.ProviderAWS, "", withSidecar(bound, config.RotateAuto), false},
		{"yes: an aws sidecar rotates", config.ProviderAWS, "", withSidecar(bound, config.RotateYes), true},
		{"no: a local sidecar reports only", config.ProviderLocal, writable, withSidecar(bound, config.RotateNo), false},
		{"without a bound nothing rotates", config.ProviderLocal, writable, config.Rotation{Sidecar: config.RotateYes}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := config.Keys{Provider: tc.provider, Rotation: tc.rotation, Local: config.LocalKeys{RingFile: tc.ring}}
			opts := rotatorOptions(keys, rotate, nil, zerolog.Nop())
			if got := opts.Rotate != nil; got != tc.rotates {
				t.Fatalf("rotates = %v, want %v", got, tc.rotates)
			}
			if want := (keycache.RotationPolicy{MaxAge: tc.rotation.MaxAge, MaxSeals: uint64(tc.rotation.MaxSeals)}); opts.Policy != want {
				t.Fatalf("policy %+v, want %+v", opts.Policy, want)
			}
		})
	}
}

func withSidecar(r config.Rotation, s config.RotateBySidecar) config.Rotation {
	r.Sidecar = s
	return r
}
