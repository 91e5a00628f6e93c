package config

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/strictyaml"
	"github.com/fieldseal/fieldseal/mask"
	"github.com/fieldseal/fieldseal/policy"
	"github.com/fieldseal/fieldseal/proxy"
)

// Config is a loaded, defaulted and validated configuration. Its yaml tags,
// and those of the types it holds, are the configuration keys.
type Config struct {
	// File is the name the configuration was parsed under; errors from later
	// stages (fieldmap.Compile) use it with the Line fields of the specs.
	File        string `yaml:"-"`
	Listen      string `yaml:"listen"`
	Upstream    string `yaml:"upstream"`
	AdminListen string `yaml:"admin_listen"`
	AdminPprof  bool   `yaml:"admin_pprof"`
	// AdminTLS serves the admin listener over TLS; empty: plain HTTP.
	AdminTLS    TLS         `yaml:"admin_tls"`
	TLS         TLS         `yaml:"tls"`
	Limits      Limits      `yaml:"limits"`
	OnOpenError OnOpenError `yaml:"on_open_error"`
	Keys        Keys        `yaml:"keys"`
	Log         Log         `yaml:"log"`
	// Classes and Routes are the field map (see FieldMap), in file order.
	Classes []Class              `yaml:"classes"`
	Routes  []fieldmap.RouteSpec `yaml:"routes"`
	Guard   fieldmap.GuardSpec   `yaml:"guard"`

	// Auth verifies callers' bearer JWTs; nil: no authentication, every
	// caller may write and decrypt (the quick start).
	Auth *auth.Options `yaml:"auth"`
	// Policies say what each caller may see and write; nil with Auth set:
	// the policy package's least-privilege default.
	Policies *policy.Spec `yaml:"policies"`
	// Audit is the audit trail's sink; nil: no audit trail.
	Audit *audit.Config `yaml:"audit"`
	// Errors shapes the bodies of errors fieldseal answers itself; nil:
	// fieldseal's own {"error":{..}}.
	Errors *proxy.ErrorsSpec `yaml:"errors"`
	// API is the encryption API's listener; nil: no API listener.
	API *API `yaml:"api"`

	// lines are the lines of the parsed file's keys (nil for Defaults).
	lines *strictyaml.Lines
}

// Line returns the line of the key at path in the parsed file
// ("keys.local.ring_file"), or 0 when the file does not have it, so that a
// check made after Parse (`fieldseal config check` warnings) can point at it.
func (c *Config) Line(path string) int {
	if c.lines == nil {
		return 0
	}
	n, _ := c.lines.Line(path)
	return n
}

// Class is a field class as configured: fieldmap's settings and how the
// class is masked for callers whose action is mask (nil: fully masked).
type Class struct {
	fieldmap.ClassSpec `yaml:",inline"`
	Mask               *mask.Spec `yaml:"mask"`
}

// TLS serves a listener (the proxy's, the admin server's or the API's) over
// TLS with a PEM certificate chain and key, read at start and again while it
// serves (a renewed pair is picked up); empty: plain HTTP.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the listener serves TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Limits are size limits and timeouts.
type Limits struct {
	MaxBodyBytes        ByteSize      `yaml:"max_body_bytes"`
	MaxResponseBytes    ByteSize      `yaml:"max_response_bytes"`
	MaxBufferedBytes    ByteSize      `yaml:"max_buffered_bytes"`
	MaxConnections      int           `yaml:"max_connections"`
	UpstreamTimeout     time.Duration `yaml:"upstream_timeout"`
	BodyTimeout         time.Duration `yaml:"body_timeout"`
	ReadHeaderTimeout   time.Duration `yaml:"read_header_timeout"`
	IdleTimeout         time.Duration `yaml:"idle_timeout"`
	MaxIdleConnsPerHost int           `yaml:"max_idle_conns_per_host"`
	ShutdownTimeout     time.Duration `yaml:"shutdown_timeout"`
}

// ByteSize is a count of bytes; in YAML an integer, or a string with a
// binary (KiB, MiB, GiB) or decimal (KB, MB, GB) unit.
type ByteSize int64

// UnmarshalText reads a positive byte count.
func (b *ByteSize) UnmarshalText(text []byte) error {
	n, ok := parseSize(string(text))
	if !ok || n <= 0 {
		return fmt.Errorf("%q is not a positive number of bytes; write it like 1048576 or \"1MiB\"", text)
	}
	*b = ByteSize(n)
	return nil
}

func parseSize(s string) (int64, bool) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
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
	Provider        Provider      `yaml:"provider"`
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// MaxStale bounds how long the ring is served without a successful
	// refresh (0: no bound).
	MaxStale time.Duration `yaml:"max_stale"`
	// Rotation is when the sidecar rotates the ring itself, or reports
	// that it is due.
	Rotation Rotation  `yaml:"rotation"`
	Local    LocalKeys `yaml:"local"`
	AWS      AWSKeys   `yaml:"aws"`
}

// Rotation configures rotation on age and on use by the sidecar
// (keycache.RotationPolicy, keycache.Rotator).
type Rotation struct {
	MaxAge   time.Duration `yaml:"max_age"`   // 0: no bound
	MaxSeals int64         `yaml:"max_seals"` // 0: no bound
	// Sidecar says whether the sidecar rotates the ring itself when a
	// bound is passed (RotateAuto, RotateYes, RotateNo).
	Sidecar RotateBySidecar `yaml:"sidecar"`
}

// RotateBySidecar is keys.rotation.sidecar.
type RotateBySidecar string

// keys.rotation.sidecar values.
const (
	// RotateAuto: local provider, yes when the ring file's directory is
	// writable; aws provider, no.
	RotateAuto RotateBySidecar = "auto"
	// RotateYes: the sidecar rotates the ring (aws: it needs the
	// permissions of keys rotate).
	RotateYes RotateBySidecar = "yes"
	// RotateNo: the sidecar only reports a due rotation.
	RotateNo RotateBySidecar = "no"
)

// AWSKeys configures the aws provider (crypto/awskeys.Options). Its defaults
// mirror awskeys.Default*, which a test checks.
type AWSKeys struct {
	Region                 string        `yaml:"region"`
	KMSKeyID               string        `yaml:"kms_key_id"`
	SecretID               string        `yaml:"secret_id"`
	Endpoint               string        `yaml:"endpoint"`
	KMSEndpoint            string        `yaml:"kms_endpoint"`
	SecretsManagerEndpoint string        `yaml:"secretsmanager_endpoint"`
	CallTimeout            time.Duration `yaml:"call_timeout"`
	MaxAttempts            int           `yaml:"max_attempts"`
	CMKCheckInterval       time.Duration `yaml:"cmk_check_interval"` // 0 disables the check
}

// LocalKeys configures the local provider.
type LocalKeys struct {
	RingFile      string `yaml:"ring_file"`
	MasterKeyFile string `yaml:"master_key_file"`
	MasterKeyEnv  string `yaml:"master_key_env"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // json | console
}

// Defaults returns the configuration every key falls back to. Upstream has
// no default and classes and routes are empty.
func Defaults() Config {
	return Config{
		Listen:      "127.0.0.1:8080",
		AdminListen: "127.0.0.1:9090",
		Limits: Limits{
			MaxBodyBytes:        1 << 20,
			MaxResponseBytes:    16 << 20,
			MaxBufferedBytes:    256 << 20,
			MaxConnections:      10000,
			UpstreamTimeout:     30 * time.Second,
			BodyTimeout:         30 * time.Second,
			ReadHeaderTimeout:   10 * time.Second,
			IdleTimeout:         90 * time.Second,
			MaxIdleConnsPerHost: 256,
			ShutdownTimeout:     15 * time.Second,
		},
		OnOpenError: OnOpenErrorFail,
		Keys: Keys{
			Provider:        ProviderLocal,
			RefreshInterval: 15 * time.Minute, // keycache.DefaultInterval
			Rotation:        Rotation{Sidecar: RotateAuto},
			Local: LocalKeys{
				RingFile:     "keys/ring.json",
				MasterKeyEnv: "FIELDSEAL_MASTER_KEY",
			},
			AWS: AWSKeys{
				CallTimeout:      5 * time.Second,
				MaxAttempts:      3,
				CMKCheckInterval: 24 * time.Hour,
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
// a *lineerr.Error, joined with errors.Join.
//
// When the file is a YAML mapping but has problems, Parse returns the
// configuration as far as it could be decoded (a bad value keeps its
// default) together with the error, so that later stages such as
// fieldmap.Compile can report their problems in the same run (`fieldseal
// config check`). Such a configuration must never be served.
func Parse(data []byte, name string) (*Config, error) {
	cfg := Defaults()
	lines, err := strictyaml.Decode(data, name, &cfg)
	if lines == nil {
		return nil, err
	}
	cfg.File = name
	cfg.lines = lines
	// Cross-key checks run even after a bad value, so that one run lists
	// every problem; a bad value keeps its default meanwhile.
	v := validator{file: name, lines: lines}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		v.errs = append(v.errs, j.Unwrap()...)
	}
	v.validate(&cfg)
	if err := v.err(); err != nil {
		return &cfg, err
	}
	return &cfg, nil
}

// FieldMap returns the field map of the configuration, for fieldmap.Compile.
func (c *Config) FieldMap() fieldmap.Spec {
	spec := fieldmap.Spec{File: c.File, Routes: c.Routes, Guard: c.Guard}
	for _, cl := range c.Classes {
		spec.Classes = append(spec.Classes, cl.ClassSpec)
	}
	return spec
}

// ClassNames returns the configured class names in file order.
func (c *Config) ClassNames() []string {
	names := make([]string, len(c.Classes))
	for i, cl := range c.Classes {
		names[i] = cl.Name
	}
	return names
}

// Masks returns the mask spec of every class that configures one.
func (c *Config) Masks() map[string]mask.Spec {
	m := map[string]mask.Spec{}
	for _, cl := range c.Classes {
		if cl.Mask != nil {
			m[cl.Name] = *cl.Mask
		}
	}
	return m
}

// ParseDuration parses a duration the way config files write one: a Go
// duration (30s, 15m, 1h30m) or a whole number of days (90d). Command-line
// flags that take a duration a config key also takes use it, so both accept
// the same text.
func ParseDuration(s string) (time.Duration, error) { return strictyaml.ParseDuration(s) }
