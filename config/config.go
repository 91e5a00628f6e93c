package config

import (
	"fmt"
	"os"
	"time"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/mask"
	"github.com/fieldseal/fieldseal/policy"
)

// Config is a loaded, defaulted and validated configuration.
type Config struct {
	// File is the name the configuration was parsed under; errors from later
	// stages (fieldmap.Compile) use it with the Line fields below.
	File        string
	Listen      string
	Upstream    string
	AdminListen string
	AdminPprof  bool
	TLS         TLS
	Limits      Limits
	OnOpenError OnOpenError
	Keys        Keys
	Log         Log
	Classes     []Class // in file order
	Routes      []Route // in file order

	// Auth verifies callers' bearer JWTs; nil: no authentication, every
	// caller may write and decrypt (the quick start).
	Auth *auth.Config
	// Policies say what each caller may see and write; nil with Auth set:
	// the policy package's least-privilege default.
	Policies *policy.Spec
	// Audit is the audit trail's sink; nil: no audit trail.
	Audit *audit.Config
}

// TLS serves the proxy listener over TLS (and so HTTP/2); empty: plain HTTP.
type TLS struct {
	CertFile string
	KeyFile  string
}

// Enabled reports whether the listener serves TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Limits are size limits and timeouts.
type Limits struct {
	MaxBodyBytes        int64
	UpstreamTimeout     time.Duration
	ReadHeaderTimeout   time.Duration
	IdleTimeout         time.Duration
	MaxIdleConnsPerHost int
	ShutdownTimeout     time.Duration
}

// OnOpenError says what happens to a response value that cannot be opened.
type OnOpenError string

const (
	// OnOpenErrorFail answers 502 and sends nothing of the body (the default).
	OnOpenErrorFail OnOpenError = "error"
	// OnOpenErrorSealed leaves the value sealed in the response.
	OnOpenErrorSealed OnOpenError = "sealed"
)

// Provider names a key provider.
type Provider string

const (
	// ProviderLocal reads a key-ring file wrapped by a master key.
	ProviderLocal Provider = "local"
	// ProviderAWS reads a key ring from Secrets Manager, unwrapped by KMS.
	ProviderAWS Provider = "aws"
)

// Keys says where data keys come from.
type Keys struct {
	Provider        Provider
	RefreshInterval time.Duration
	Local           LocalKeys
	AWS             AWSKeys
}

// AWSKeys configures the aws provider (crypto/awskeys.Options). Its defaults
// mirror awskeys.Default*, which a test checks.
type AWSKeys struct {
	Region                 string
	KMSKeyID               string
	SecretID               string
	Endpoint               string
	KMSEndpoint            string
	SecretsManagerEndpoint string
	CallTimeout            time.Duration
	MaxAttempts            int
	CMKCheckInterval       time.Duration // 0 disables the check
}

// LocalKeys configures the local provider.
type LocalKeys struct {
	RingFile      string
	MasterKeyFile string
	MasterKeyEnv  string
}

// Log configures logging.
type Log struct {
	Level  string // debug | info | warn | error
	Format string // json | console
}

// Mode is a class's encryption mode.
type Mode string

const (
	// ModeRandom seals with a random nonce: equal plaintexts look different.
	ModeRandom Mode = "random"
	// ModeDeterministic seals equal plaintexts (under one key) to equal
	// ciphertexts, so the application can look them up; it leaks equality.
	ModeDeterministic Mode = "deterministic"
)

// Class is a field class: a kind of protected value with its settings.
type Class struct {
	Name string
	Mode Mode
	Mask *mask.Spec // how the class is masked for callers whose action is mask; nil: fully masked
	Line int
}

// Route is a protected route.
type Route struct {
	Name          string
	Methods       []string
	Paths         []RoutePath
	Request       []Field // sealed in request bodies
	Response      []Field // opened in response bodies
	ContextHeader string  // request header bound into the AAD; empty for none
	Line          int
}

// RoutePath is one URL path pattern of a route.
type RoutePath struct {
	Pattern string
	Line    int
}

// Field is one protected value of a body: a gjson path and its class.
type Field struct {
	Path  string
	Class string
	Line  int
}

// Defaults returns the configuration every key falls back to. Upstream has
// no default and classes and routes are empty.
func Defaults() Config {
	return Config{
		Listen:      "127.0.0.1:8080",
		AdminListen: "127.0.0.1:9090",
		Limits: Limits{
			MaxBodyBytes:        1 << 20,
			UpstreamTimeout:     30 * time.Second,
			ReadHeaderTimeout:   10 * time.Second,
			IdleTimeout:         90 * time.Second,
			MaxIdleConnsPerHost: 256,
			ShutdownTimeout:     15 * time.Second,
		},
		OnOpenError: OnOpenErrorFail,
		Keys: Keys{
			Provider:        ProviderLocal,
			RefreshInterval: time.Minute,
			Local: LocalKeys{
				RingFile:     "keys/ring.json",
				MasterKeyEnv: "FIELDSEAL_MASTER_KEY",
			},
			AWS: AWSKeys{
				CallTimeout:      5 * time.Second,
				MaxAttempts:      3,
				CMKCheckInterval: time.Hour,
			},
		},
		Log: Log{Level: "info", Format: "json"},
	}
}

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %q: %w", path, err)
	}
	return Parse(data, path)
}

// Parse parses, defaults and validates a configuration. name is used in
// error messages and kept as Config.File. Every problem is reported, each as
// an *Error, joined with errors.Join.
//
// When the file is a YAML mapping but has problems, Parse returns the
// configuration as far as it could be decoded (a bad value keeps its
// default) together with the error, so that later stages such as
// fieldmap.Compile can report their problems in the same run (`fieldseal
// config check`). Such a configuration must never be served.
func Parse(data []byte, name string) (*Config, error) {
	d := &decoder{file: name}
	cfg := Defaults()
	cfg.File = name
	decoded := d.decode(data, &cfg)
	if decoded {
		// Cross-key checks run even after a bad value, so that one run
		// lists every problem; a bad value keeps its default meanwhile.
		d.validate(&cfg)
	}
	switch {
	case len(d.errs) == 0:
		return &cfg, nil
	case decoded:
		return &cfg, d.err()
	default:
		return nil, d.err()
	}
}
