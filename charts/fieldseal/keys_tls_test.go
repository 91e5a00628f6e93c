package chart_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/inject"
)

// The local provider's master key lives apart from the ring (here on an
// external secret store's CSI volume), and the sidecars serve TLS on the
// proxy listener and the admin port from Certificates cert-manager writes in
// the app namespaces: what the chart renders must be what the injector and
// the sidecar's config loader accept, and agree between the two.
func TestChartLocalMasterKeyAndSidecarTLS(t *testing.T) {
	rendered := helmTemplate(t, ".", "-f", filepath.Join("ci", "local-tls-values.yaml"))
	compareGolden(t, "local-tls-values", rendered)
	m := decodeAll(t, rendered)
	d := one(t, "Deployment", m.deployments)
	cfg := checkInjectorConfig(t, m, d, images{
		injector: "ghcr.io/fieldseal/fieldseal-injector:0.1.0",
		sidecar:  "ghcr.io/fieldseal/fieldseal:0.1.0",
	})

	t.Run("the injector takes the ring and the master key from different places", func(t *testing.T) {
		mk := cfg.Keys.MasterKey
		if cfg.Keys.LocalSecret != "shop-keyring" || mk.File != "/var/run/fieldseal/master-key/master-key" ||
			mk.Volume == nil || mk.Volume.CSI == nil || mk.Volume.CSI.VolumeAttributes["secretProviderClass"] != "fieldseal-master-key" {
			t.Errorf("injector keys = %+v (volume %+v)", cfg.Keys, mk.Volume)
		}
	})
	t.Run("the sidecar config reads the master key file the injector mounts, and loads", func(t *testing.T) {
		for _, ns := range []string{namespace, "shop", "orders"} {
			cm := configMapNamed(m, "fieldseal-fieldmap", ns)
			if cm == nil {
				t.Fatalf("field map not rendered in %s", ns)
			}
			checkFieldMap(t, cm, "local")
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(cm.Data["config.yaml"]), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(path)
			if err != nil {
				t.Fatalf("rendered config in %s does not load: %v", ns, err)
			}
			if c.Keys.Local.MasterKeyFile != cfg.Keys.MasterKey.File || c.Keys.Local.RingFile != inject.KeysMountPath+"/"+inject.LocalSecretRingKey {
				t.Errorf("config keys.local = %+v, want the files the injector mounts", c.Keys.Local)
			}
		}
	})
	t.Run("an injected pod gets both listeners on TLS, HTTPS probes and the master key volume", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{inject.AnnotationInject: "true"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "api:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
		dec, err := cfg.Decide(pod, "shop")
		if err != nil {
			t.Fatal(err)
		}
		var c corev1.Container
		for _, ctr := range dec.Pod.Spec.Containers {
			if ctr.Name == inject.ContainerName {
				c = ctr
			}
		}
		args := strings.Join(c.Args, " ")
		for _, want := range []string{"--tls-cert-file /var/run/fieldseal/tls/tls.crt", "--admin-tls-key-file /var/run/fieldseal/tls/tls.key"} {
			if !strings.Contains(args, want) {
				t.Errorf("args %q lack %q", args, want)
			}
		}
		if c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS || len(c.Env) != 0 {
			t.Errorf("probe scheme %s, env %+v: want HTTPS and no master key in the environment", c.ReadinessProbe.HTTPGet.Scheme, c.Env)
		}
		var tlsSecret string
		var csi bool
		for _, v := range dec.Pod.Spec.Volumes {
			if v.Name == inject.TLSVolumeName {
				tlsSecret = v.Secret.SecretName
			}
			csi = csi || v.Name == inject.MasterKeyVolumeName && v.CSI != nil
		}
		if tlsSecret != "fieldseal-sidecar-tls" || !csi {
			t.Errorf("volumes %+v: want the TLS Secret and the CSI master key volume", dec.Pod.Spec.Volumes)
		}
	})
	t.Run("cert-manager writes the TLS Secret the injector mounts, in each app namespace", func(t *testing.T) {
		byNS := map[string]*cmCertificate{}
		for _, c := range m.certs {
			byNS[c.Metadata.Namespace] = c
		}
		for ns, dns := range map[string]string{"shop": "shop-api.shop.svc", "orders": "orders-api.orders.svc"} {
			c := byNS[ns]
			if c == nil {
				t.Errorf("no Certificate in %s", ns)
				continue
			}
			if c.Spec.SecretName != cfg.TLS.Secret || !slices.Contains(c.Spec.DNSNames, dns) ||
				c.Spec.IssuerRef.Name != "internal-ca" || c.Spec.IssuerRef.Kind != "ClusterIssuer" || !slices.Contains(c.Spec.Usages, "server auth") {
				t.Errorf("Certificate in %s = %+v", ns, c.Spec)
			}
		}
	})
}

func TestChartRefusesMasterKeyBesideTheRing(t *testing.T) {
	for _, tt := range []struct {
		name, want string
		args       []string
	}{
		{"one Secret for the ring and the master key", "a Secret of its own",
			[]string{"--set", "keys.provider=local", "--set", "keys.local.masterKeySecret.name=fieldseal-keys"}},
		{"a master key volume without the file's path", "needs keys.local.masterKeyFile.path",
			[]string{"--set", "keys.provider=local", "--set-json", `keys.local.masterKeyFile.volume={"csi":{"driver":"x"}}`}},
		{"a relative master key path", "masterKeyFile",
			[]string{"--set", "keys.local.masterKeyFile.path=master-key"}},
		{"an unknown TLS listener", "listeners",
			[]string{"--set-json", `sidecar.tls.listeners=["api"]`}},
		{"cert-manager Certificates without an issuer", "issuerRef.name",
			[]string{"--set", "sidecar.tls.secretName=t", "--set", "sidecar.tls.certManager.enabled=true"}},
	} {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			helmMustFail(t, ".", tt.want, tt.args...)
		})
	}
}

// The chart leaves keys.refresh_interval to the binary unless a value sets it,
// so the sidecars poll at the interval the README's fleet-cost figures assume.
func TestChartKeepsTheBinaryRefreshInterval(t *testing.T) {
	m := decodeAll(t, helmTemplate(t, ".", "--set", "keys.provider=local"))
	cm := configMapNamed(m, "fieldseal-fieldmap", namespace)
	if cm == nil {
		t.Fatal("field map not rendered")
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cm.Data["config.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("rendered config does not load: %v", err)
	}
	if c.Keys.RefreshInterval != keycache.DefaultInterval {
		t.Errorf("rendered keys.refresh_interval = %v, want the binary default %v", c.Keys.RefreshInterval, keycache.DefaultInterval)
	}
}

func TestChartRefusesValuesTheSidecarWouldFailOn(t *testing.T) {
	for _, tc := range []struct{ name, want, set string }{
		{"a master key file in the ring's mount is refused as the injector would", "already a mount of the sidecar",
			"keys.local.masterKeyFile.path=/var/run/fieldseal/keys/master-key"},
		{"a master key file in the config mount is refused as the injector would", "already a mount of the sidecar",
			"keys.local.masterKeyFile.path=/etc/fieldseal/master-key"},
		{"a refresh interval that is not a duration is refused by the schema", "refreshInterval",
			"fieldMap.refreshInterval=15x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			helmMustFail(t, ".", tc.want, "--set", "keys.provider=local", "--set", tc.set)
		})
	}
}
