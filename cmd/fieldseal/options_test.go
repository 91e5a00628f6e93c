package main

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/config"
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
	if opts.Routes.Lookup("POST", "/customers", "", "", func(string) string { return "" }) == nil {
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
