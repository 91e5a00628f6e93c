package inject

import (
	"errors"
	"fmt"
	"os"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Key providers the sidecar supports.
const (
	ProviderLocal = "local"
	ProviderAWS   = "aws"
)

// Config holds the chart-level defaults the injector applies to every pod.
// The Helm chart renders it as YAML (see charts/fieldseal/templates/
// injector-configmap.yaml); field names follow the chart's values.
type Config struct {
	// Image is the sidecar image (required).
	Image string `json:"image"`
	// ImagePullPolicy for the sidecar; empty leaves the Kubernetes default.
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// AllowedImages lists the images AnnotationImage may select. Empty: the
	// annotation is refused.
	AllowedImages []string `json:"allowedImages,omitempty"`
	// ConfigMap is the default field-map ConfigMap name (AnnotationConfigMap).
	ConfigMap string `json:"configMap"`
	// ListenPort, UpstreamPort and AdminPort are the default ports.
	ListenPort   int32 `json:"listenPort"`
	UpstreamPort int32 `json:"upstreamPort"`
	AdminPort    int32 `json:"adminPort"`
	// Resources are the sidecar's default requests and limits.
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// Keys configures the key provider defaults.
	Keys KeysConfig `json:"keys"`
	// SkipNamespaces are never injected (kube-system and the injector's own).
	SkipNamespaces []string `json:"skipNamespaces,omitempty"`
}

// KeysConfig is the key-provider part of Config.
type KeysConfig struct {
	// Provider is the default provider: ProviderLocal or ProviderAWS.
	Provider string `json:"provider"`
	// Local: the Secret (in the pod's namespace) holding the wrapped key
	// ring (key ring.json) and the master key (key master-key).
	LocalSecret string `json:"localSecret,omitempty"`
	// AWSRegion is set as AWS_REGION on the sidecar when not empty.
	AWSRegion string `json:"awsRegion,omitempty"`
}

// Secret keys the local provider's Secret must hold.
const (
	LocalSecretRingKey      = "ring.json"
	LocalSecretMasterKeyKey = "master-key"
)

// Default values used when a Config field is left empty.
const (
	DefaultListenPort   = 18080
	DefaultUpstreamPort = 8080
	DefaultAdminPort    = 19090
	DefaultConfigMap    = "fieldseal-fieldmap"
	DefaultLocalSecret  = "fieldseal-keys"
)

// ErrInvalidConfig marks an injector Config that cannot be used.
var ErrInvalidConfig = errors.New("invalid injector config")

// LoadConfig reads an injector Config from a YAML (or JSON) file, strictly:
// unknown keys are errors. Defaults are applied and the result validated.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read injector config: %w", err)
	}
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse injector config %q: %w", path, err)
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("injector config %q: %w", path, err)
	}
	return c, nil
}

func (c *Config) setDefaults() {
	if c.ListenPort == 0 {
		c.ListenPort = DefaultListenPort
	}
	if c.UpstreamPort == 0 {
		c.UpstreamPort = DefaultUpstreamPort
	}
	if c.AdminPort == 0 {
		c.AdminPort = DefaultAdminPort
	}
	if c.ConfigMap == "" {
		c.ConfigMap = DefaultConfigMap
	}
	if c.Keys.Provider == "" {
		c.Keys.Provider = ProviderLocal
	}
	if c.Keys.LocalSecret == "" {
		c.Keys.LocalSecret = DefaultLocalSecret
	}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Image == "" {
		errs = append(errs, fmt.Errorf("%w: image is required", ErrInvalidConfig))
	}
	for _, p := range []struct {
		name string
		port int32
	}{{"listenPort", c.ListenPort}, {"upstreamPort", c.UpstreamPort}, {"adminPort", c.AdminPort}} {
		if p.port < 1 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%w: %s %d is not a port number (1-65535)", ErrInvalidConfig, p.name, p.port))
		}
	}
	if c.ListenPort == c.AdminPort || c.ListenPort == c.UpstreamPort || c.AdminPort == c.UpstreamPort {
		errs = append(errs, fmt.Errorf("%w: listenPort, upstreamPort and adminPort must differ", ErrInvalidConfig))
	}
	if !slices.Contains([]string{ProviderLocal, ProviderAWS}, c.Keys.Provider) {
		errs = append(errs, fmt.Errorf("%w: keys.provider %q: want local or aws", ErrInvalidConfig, c.Keys.Provider))
	}
	switch c.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, fmt.Errorf("%w: imagePullPolicy %q: want Always, IfNotPresent or Never", ErrInvalidConfig, c.ImagePullPolicy))
	}
	return errors.Join(errs...)
}
