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
	tests := []struct {
		name string
		set  []string
		cfg  inject.Config
	}{
		{"with the aws provider the template renders the injector's container",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.keyProvider=aws", "fieldseal.awsRegion=eu-west-1",
				"fieldseal.configMap=shop-fieldmap", "fieldseal.upstreamPort=8080"},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent, ConfigMap: "shop-fieldmap",
				Resources: resources, Keys: inject.KeysConfig{Provider: "aws", AWSRegion: "eu-west-1"}}},
		{"with the local provider and custom ports the template renders the injector's container",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.keyProvider=local", "fieldseal.localSecret=shop-keys",
				"fieldseal.listenPort=9443", "fieldseal.adminPort=9901", "fieldseal.upstreamPort=8080"},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent, ConfigMap: "fieldseal-fieldmap",
				ListenPort: 9443, AdminPort: 9901, Resources: resources, Keys: inject.KeysConfig{Provider: "local", LocalSecret: "shop-keys"}}},
		{"with the outbound topology the template renders the injector's loopback-only container",
			[]string{"fieldseal.image=ghcr.io/fieldseal/fieldseal:0.1.0", "fieldseal.topology=outbound"},
			inject.Config{Image: "ghcr.io/fieldseal/fieldseal:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent,
				Resources: resources, Keys: inject.KeysConfig{Provider: "aws"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			for _, s := range tt.set {
				args = append(args, "--set", s)
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
}
