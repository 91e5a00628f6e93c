package inject

import (
	"errors"
	"fmt"
	"os"
	"path"
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
	// TLS serves the sidecar's listeners over TLS from a Secret.
	TLS TLSConfig `json:"tls,omitempty"`
	// SkipNamespaces are never injected (kube-system and the injector's own).
	SkipNamespaces []string `json:"skipNamespaces,omitempty"`
}

// KeysConfig is the key-provider part of Config.
type KeysConfig struct {
	// Provider is the default provider: ProviderLocal or ProviderAWS.
	Provider string `json:"provider"`
	// LocalSecret is the local provider's ring Secret (in the pod's
	// namespace): key ring.json, the wrapped key ring, mounted at
	// KeysMountPath. It never holds the master key.
	LocalSecret string `json:"localSecret,omitempty"`
	// MasterKey says where the local provider's master key comes from: a
	// Secret of its own, so that whoever may read the ring (its backups,
	// the rotation tooling) does not also get the key that unwraps it.
	MasterKey MasterKeyConfig `json:"masterKey,omitempty"`
	// AWSRegion is set as AWS_REGION on the sidecar when not empty.
	AWSRegion string `json:"awsRegion,omitempty"`
}

// MasterKeyConfig is where the local provider's master key comes from.
// Without File, the sidecar gets Secret's Key in the environment variable
// EnvMasterKey (the config's keys.local.master_key_env), which it clears
// once read. With File, the sidecar reads the key from that file (the
// config's keys.local.master_key_file must name the same path), mounted
// from Volume, or from the Secret with mode 0400 when Volume is nil.
type MasterKeyConfig struct {
	// Secret is the Secret (in the pod's namespace) holding the base64
	// master key; default DefaultMasterKeySecret. Ignored with Volume.
	Secret string `json:"secret,omitempty"`
	// Key is the Secret's key holding it; default LocalSecretMasterKeyKey.
	Key string `json:"key,omitempty"`
	// File is the absolute path the sidecar reads the master key from;
	// its directory is the mount point of the master key volume, which
	// must not be another mount of the sidecar. Empty: the environment.
	File string `json:"file,omitempty"`
	// Volume is the volume holding the file under the base name of File
	// (an external secret store's CSI volume, a Secret with items): the
	// sidecar refuses a file open to group or others, except a read-only
	// root-owned file only its group may read (a Secret with defaultMode
	// 0400 in a pod with an fsGroup). Nil: Secret, key Key, mode 0400.
	Volume *corev1.VolumeSource `json:"volume,omitempty"`
}

// TLSConfig serves the sidecar's proxy listener and admin port over TLS
// with the certificate of a kubernetes.io/tls Secret (keys tls.crt and
// tls.key) in the pod's namespace, mounted at TLSMountPath and passed with
// serve's --tls-* and --admin-tls-* flags. The probes then use HTTPS.
type TLSConfig struct {
	// Secret is the default TLS Secret; AnnotationTLSSecret overrides it
	// per pod. Empty (and no annotation): plain HTTP.
	Secret string `json:"secret,omitempty"`
	// Listeners are the listeners served over TLS when a Secret is given:
	// TLSListenerProxy and TLSListenerAdmin (the default: both).
	Listeners []string `json:"listeners,omitempty"`
}

// Listeners TLSConfig.Listeners may name.
const (
	TLSListenerProxy = "proxy"
	TLSListenerAdmin = "admin"
)

// Secret keys: the ring Secret holds LocalSecretRingKey, the master key
// Secret LocalSecretMasterKeyKey (by default), a TLS Secret the keys of
// kubernetes.io/tls.
const (
	LocalSecretRingKey      = "ring.json"
	LocalSecretMasterKeyKey = "master-key"
	TLSSecretCertKey        = "tls.crt"
	TLSSecretKeyKey         = "tls.key"
)

// Default values used when a Config field is left empty.
const (
	DefaultListenPort   = 18080
	DefaultUpstreamPort = 8080
	DefaultAdminPort    = 19090
	DefaultConfigMap    = "fieldseal-fieldmap"
	DefaultLocalSecret  = "fieldseal-keys"
	// DefaultMasterKeySecret differs from DefaultLocalSecret: the master
	// key and the ring it unwraps are never in one Secret.
	DefaultMasterKeySecret = "fieldseal-master-key"
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
	if c.Keys.MasterKey.Secret == "" {
		c.Keys.MasterKey.Secret = DefaultMasterKeySecret
	}
	if c.Keys.MasterKey.Key == "" {
		c.Keys.MasterKey.Key = LocalSecretMasterKeyKey
	}
	if len(c.TLS.Listeners) == 0 {
		c.TLS.Listeners = []string{TLSListenerProxy, TLSListenerAdmin}
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
	if c.Keys.MasterKey.Secret == c.Keys.LocalSecret && c.Keys.MasterKey.Volume == nil {
		errs = append(errs, fmt.Errorf("%w: keys.masterKey.secret %q is the ring Secret keys.localSecret: keep the master key in a Secret of its own", ErrInvalidConfig, c.Keys.LocalSecret))
	}
	if f := c.Keys.MasterKey.File; f != "" {
		dir := path.Dir(f)
		switch {
		case !path.IsAbs(f) || path.Clean(f) != f || dir == "/":
			errs = append(errs, fmt.Errorf("%w: keys.masterKey.file %q: want a clean absolute path in a directory of its own", ErrInvalidConfig, f))
		case dir == ConfigMountPath || dir == KeysMountPath || dir == TLSMountPath:
			errs = append(errs, fmt.Errorf("%w: keys.masterKey.file %q: its directory is already a mount of the sidecar", ErrInvalidConfig, f))
		}
	} else if c.Keys.MasterKey.Volume != nil {
		errs = append(errs, fmt.Errorf("%w: keys.masterKey.volume needs keys.masterKey.file, the path the sidecar reads", ErrInvalidConfig))
	}
	for _, l := range c.TLS.Listeners {
		if l != TLSListenerProxy && l != TLSListenerAdmin {
			errs = append(errs, fmt.Errorf("%w: tls.listeners: %q is not a listener: want proxy or admin", ErrInvalidConfig, l))
		}
	}
	switch c.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, fmt.Errorf("%w: imagePullPolicy %q: want Always, IfNotPresent or Never", ErrInvalidConfig, c.ImagePullPolicy))
	}
	return errors.Join(errs...)
}
