package inject

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func appPod(fsGroup *int64, ann map[string]string) *corev1.Pod {
	a := map[string]string{AnnotationInject: "true"}
	for k, v := range ann {
		a[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: a},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{FSGroup: fsGroup},
			Containers:      []corev1.Container{{Name: "app", Image: "app:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
		},
	}
}

func TestMasterKeyComesFromItsOwnSecretOrFile(t *testing.T) {
	fsGroup := int64(65532)
	base := testConfig(t)
	base.Keys.Provider = ProviderLocal

	t.Run("from a file in its own Secret: a 0400 volume at the file's directory, nothing in the environment", func(t *testing.T) {
		cfg := base
		cfg.Keys.MasterKey = MasterKeyConfig{Secret: "shop-master-key", Key: "mk", File: "/var/run/fieldseal/master-key/key"}
		d, err := cfg.Decide(appPod(&fsGroup, nil), "shop")
		if err != nil {
			t.Fatal(err)
		}
		c := sidecar(t, d.Pod)
		v := volume(d.Pod, MasterKeyVolumeName)
		if v == nil || v.Secret == nil || v.Secret.SecretName != "shop-master-key" || *v.Secret.DefaultMode != 0o400 ||
			len(v.Secret.Items) != 1 || v.Secret.Items[0] != (corev1.KeyToPath{Key: "mk", Path: "key"}) {
			t.Fatalf("master key volume = %+v", v)
		}
		if !mountedAt(c, MasterKeyVolumeName, "/var/run/fieldseal/master-key") || !mountedAt(c, KeysVolumeName, KeysMountPath) {
			t.Errorf("mounts = %+v", c.VolumeMounts)
		}
		if ring := volume(d.Pod, KeysVolumeName); ring.Secret.SecretName != DefaultLocalSecret || len(ring.Secret.Items) != 1 {
			t.Errorf("ring volume = %+v", ring)
		}
		if len(c.Env) != 0 {
			t.Errorf("env = %+v, want the master key only in the file", c.Env)
		}
	})
	t.Run("from a Secret file in a pod without fsGroup: denied, the sidecar could not read it", func(t *testing.T) {
		cfg := base
		cfg.Keys.MasterKey = MasterKeyConfig{Secret: "shop-master-key", Key: "mk", File: "/var/run/fieldseal/master-key/key"}
		_, err := cfg.Decide(appPod(nil, nil), "shop")
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "fsGroup") {
			t.Errorf("err = %v, want ErrConflict naming fsGroup", err)
		}
	})
	t.Run("from a volume the chart names (an external secret store): that volume, no fsGroup needed", func(t *testing.T) {
		cfg := base
		csi := &corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io",
			VolumeAttributes: map[string]string{"secretProviderClass": "fieldseal-master-key"}}}
		cfg.Keys.MasterKey = MasterKeyConfig{Secret: DefaultMasterKeySecret, Key: LocalSecretMasterKeyKey, File: "/mnt/master/master-key", Volume: csi}
		d, err := cfg.Decide(appPod(nil, nil), "shop")
		if err != nil {
			t.Fatal(err)
		}
		v := volume(d.Pod, MasterKeyVolumeName)
		if v == nil || v.CSI == nil || v.CSI.VolumeAttributes["secretProviderClass"] != "fieldseal-master-key" {
			t.Fatalf("master key volume = %+v", v)
		}
		if !mountedAt(sidecar(t, d.Pod), MasterKeyVolumeName, "/mnt/master") {
			t.Errorf("mounts = %+v", sidecar(t, d.Pod).VolumeMounts)
		}
	})
	t.Run("the aws provider gets no master key at all", func(t *testing.T) {
		cfg := base
		cfg.Keys.Provider = ProviderAWS
		cfg.Keys.MasterKey.File = "/var/run/fieldseal/master-key/key"
		d, err := cfg.Decide(appPod(nil, nil), "shop")
		if err != nil {
			t.Fatal(err)
		}
		if volume(d.Pod, MasterKeyVolumeName) != nil || volume(d.Pod, KeysVolumeName) != nil {
			t.Errorf("aws sidecar got local key volumes: %+v", d.Pod.Spec.Volumes)
		}
	})
}

func TestTLSListenersFollowTheConfig(t *testing.T) {
	cfg := testConfig(t)
	cfg.TLS = TLSConfig{Secret: "default-tls", Listeners: []string{TLSListenerAdmin}}
	d, err := cfg.Decide(appPod(nil, nil), "shop")
	if err != nil {
		t.Fatal(err)
	}
	c := sidecar(t, d.Pod)
	args := strings.Join(c.Args, " ")
	if !strings.Contains(args, "--admin-tls-cert-file") || strings.Contains(args, "--tls-cert-file") {
		t.Errorf("args %q: want admin TLS only", args)
	}
	if c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
		t.Errorf("readiness probe scheme %s, want HTTPS", c.ReadinessProbe.HTTPGet.Scheme)
	}
	if v := volume(d.Pod, TLSVolumeName); v == nil || v.Secret.SecretName != "default-tls" {
		t.Errorf("TLS volume = %+v", v)
	}
}

func TestKeysAndTLSConfigIsValidated(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"the master key in the ring's Secret is refused", func(c *Config) { c.Keys.MasterKey.Secret = c.Keys.LocalSecret }, "a Secret of its own"},
		{"a relative master key file is refused", func(c *Config) { c.Keys.MasterKey.File = "master/key" }, "absolute path"},
		{"a master key file in the ring's mount is refused", func(c *Config) { c.Keys.MasterKey.File = KeysMountPath + "/mk" }, "already a mount"},
		{"a master key volume without a file is refused", func(c *Config) { c.Keys.MasterKey.Volume = &corev1.VolumeSource{} }, "needs keys.masterKey.file"},
		{"an unknown TLS listener is refused", func(c *Config) { c.TLS.Listeners = []string{"api"} }, `"api" is not a listener`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.edit(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalidConfig containing %q", err, tt.want)
			}
		})
	}
}
