package chart_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/inject"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// userChart is a tiny chart that includes fieldseal.sidecar the way a user's
// own chart would; the test copies templates/_sidecar.tpl beside it.
const userChartYAML = `apiVersion: v2
name: shop-api
version: 1.0.0
`

const userDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-api
spec:
  replicas: 1
  selector:
    matchLabels: {app: shop-api}
  template:
    metadata:
      labels: {app: shop-api}
    spec:
      containers:
        - name: api
          image: registry.example.com/shop/api:2.4.1
          ports:
            - {name: http, containerPort: 8080}
        {{- include "fieldseal.sidecar" .Values.fieldseal | nindent 8 }}
      volumes:
        {{- include "fieldseal.sidecarVolumes" .Values.fieldseal | nindent 8 }}
`

func TestSidecarTemplateMatchesInjector(t *testing.T) {
	tpl, err := os.ReadFile(filepath.Join("templates", "_sidecar.tpl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"Chart.yaml":                userChartYAML,
		"templates/_sidecar.tpl":    string(tpl),
		"templates/deployment.yaml": userDeployment,
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	fsGroup := int64(65532)
	tests := []struct {
		name string
		set  []string
		cfg  inject.Config
		// podFSGroup sets the pod's fsGroup, which a master key file
		// from a Secret needs.
		podFSGroup bool
	}{
		{"with the aws provider the template renders the injector's container",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.keyProvider=aws", "fieldseal.awsRegion=eu-west-1",
				"fieldseal.configMap=shop-fieldmap", "fieldseal.upstreamPort=8080"},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent, ConfigMap: "shop-fieldmap",
				Resources: resources, Keys: inject.KeysConfig{Provider: "aws", AWSRegion: "eu-west-1"}}, false},
		{"with the local provider and custom ports the template renders the injector's container",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.keyProvider=local", "fieldseal.localSecret=shop-keys",
				"fieldseal.listenPort=9443", "fieldseal.adminPort=9901", "fieldseal.upstreamPort=8080"},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent, ConfigMap: "fieldseal-fieldmap",
				ListenPort: 9443, AdminPort: 9901, Resources: resources, Keys: inject.KeysConfig{Provider: "local", LocalSecret: "shop-keys"}}, false},
		{"with the outbound topology the template renders the injector's loopback-only container",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.topology=outbound"},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent,
				Resources: resources, Keys: inject.KeysConfig{Provider: "aws"}}, false},
		{"with a master key Secret of its own in the environment the template renders the injector's container",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.keyProvider=local", "fieldseal.masterKeySecret=shop-mk", "fieldseal.masterKeySecretKey=key"},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent, Resources: resources,
				Keys: inject.KeysConfig{Provider: "local", MasterKey: inject.MasterKeyConfig{Secret: "shop-mk", Key: "key"}}}, false},
		{"with the master key file from its Secret (mode 0400) the template renders the injector's container and volumes",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.keyProvider=local", "fieldseal.masterKeyFile=/var/run/fieldseal/master-key/master-key"},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent, Resources: resources,
				Keys: inject.KeysConfig{Provider: "local", MasterKey: inject.MasterKeyConfig{File: "/var/run/fieldseal/master-key/master-key"}}}, true},
		{"with the master key file from a CSI volume and TLS on both listeners the template renders the injector's container and volumes",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.keyProvider=local", "fieldseal.masterKeyFile=/mnt/master/master-key",
				`fieldseal.masterKeyVolume={"csi":{"driver":"secrets-store.csi.k8s.io","readOnly":true,"volumeAttributes":{"secretProviderClass":"fieldseal-master-key"}}}`,
				"fieldseal.tlsSecret=shop-api-tls"},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent, Resources: resources,
				Keys: inject.KeysConfig{Provider: "local", MasterKey: inject.MasterKeyConfig{File: "/mnt/master/master-key", Volume: &corev1.VolumeSource{
					CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io", ReadOnly: ptrTrue(), VolumeAttributes: map[string]string{"secretProviderClass": "fieldseal-master-key"}}}}},
				TLS: inject.TLSConfig{Secret: "shop-api-tls"}}, false},
		{"with TLS on the admin port only the template renders the injector's container",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.tlsSecret=shop-api-tls", `fieldseal.tlsListeners=["admin"]`},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent, Resources: resources,
				Keys: inject.KeysConfig{Provider: "aws"}, TLS: inject.TLSConfig{Secret: "shop-api-tls", Listeners: []string{"admin"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			for _, s := range tt.set {
				flag := "--set"
				if strings.Contains(s, "={") || strings.Contains(s, "=[") {
					flag = "--set-json"
				}
				args = append(args, flag, s)
			}
			m := decodeAll(t, helmTemplate(t, dir, args...))
			d := one(t, "Deployment", m.deployments)
			rendered := d.Spec.Template.Spec

			// The injector's view of the same pod.
			cfgPath := filepath.Join(t.TempDir(), "injector.yaml")
			writeConfig(t, cfgPath, tt.cfg)
			cfg, err := inject.LoadConfig(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			ann := map[string]string{inject.AnnotationInject: "true"}
			for _, kv := range tt.set {
				if v, ok := strings.CutPrefix(kv, "fieldseal.topology="); ok {
					ann[inject.AnnotationTopology] = v
				}
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Annotations: ann},
				Spec:       corev1.PodSpec{Containers: rendered.Containers[:1]},
			}
			if tt.podFSGroup {
				pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: &fsGroup}
			}
			dec, err := cfg.Decide(pod, "shop")
			if err != nil || dec.Pod == nil {
				t.Fatalf("injector: %v %+v", err, dec)
			}
			want := dec.Pod.Spec
			if len(rendered.Containers) != 2 {
				t.Fatalf("rendered %d containers, want app + fieldseal", len(rendered.Containers))
			}
			if !equality.Semantic.DeepEqual(rendered.Containers[1], want.Containers[1]) {
				t.Errorf("template container differs from the injector's:\n template: %+v\n injector: %+v", rendered.Containers[1], want.Containers[1])
			}
			if !equality.Semantic.DeepEqual(rendered.Volumes, want.Volumes) {
				t.Errorf("template volumes differ from the injector's:\n template: %+v\n injector: %+v", rendered.Volumes, want.Volumes)
			}
		})
	}
	t.Run("a missing image fails the render with a clear message", func(t *testing.T) {
		helmMustFail(t, dir, "fieldseal.sidecar: image is required")
	})
	t.Run("the master key in the ring's Secret fails the render", func(t *testing.T) {
		helmMustFail(t, dir, "a Secret of its own", "--set", "fieldseal.image=x", "--set", "fieldseal.keyProvider=local",
			"--set", "fieldseal.localSecret=keys", "--set", "fieldseal.masterKeySecret=keys")
	})
}

func ptrTrue() *bool { t := true; return &t }
