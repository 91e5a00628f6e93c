package chart_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/fieldseal/fieldseal/inject"
	"github.com/fieldseal/fieldseal/inject/apiservertest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// namespaced are the rendered namespaced kinds: the API group version ("" is
// the core group) and the resource of each.
var namespaced = map[string][2]string{
	"Deployment":          {"apps/v1", "deployments"},
	"Service":             {"", "services"},
	"Secret":              {"", "secrets"},
	"ConfigMap":           {"", "configmaps"},
	"ServiceAccount":      {"", "serviceaccounts"},
	"PodDisruptionBudget": {"policy/v1", "poddisruptionbudgets"},
	"Role":                {"rbac.authorization.k8s.io/v1", "roles"},
	"RoleBinding":         {"rbac.authorization.k8s.io/v1", "rolebindings"},
	"CronJob":             {"batch/v1", "cronjobs"},
}

// restPath maps a rendered kind to its collection path on the API server.
func restPath(kind, ns string) (string, bool) {
	if kind == "MutatingWebhookConfiguration" {
		return "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", true
	}
	r, ok := namespaced[kind]
	switch {
	case !ok:
		return "", false // cert-manager kinds: no CRDs on a bare API server
	case r[0] == "":
		return "/api/v1/namespaces/" + ns + "/" + r[1], true
	}
	return "/apis/" + r[0] + "/namespaces/" + ns + "/" + r[1], true
}

// TestChartIsAcceptedByRealAPIServer sends every rendered object to a real
// kube-apiserver as a dry-run create, so server-side validation (not only our
// strict decoding) accepts the chart with both value sets.
func TestChartIsAcceptedByRealAPIServer(t *testing.T) {
	helmBinary(t)
	srv := apiservertest.Start(t)
	for _, ns := range []string{namespace, "shop", "orders"} {
		body := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}
		if code, out := srv.Do(t, http.MethodPost, "/api/v1/namespaces", body); code != http.StatusCreated {
			t.Fatalf("create namespace %s: %d %s", ns, code, out)
		}
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"every object rendered with the default values is valid", nil},
		{"every object rendered with the custom values is valid (cert-manager kinds aside)", []string{"-f", filepath.Join("ci", "custom-values.yaml")}},
		{"every object rendered with the local provider and sidecar TLS is valid (cert-manager kinds aside)", []string{"-f", filepath.Join("ci", "local-tls-values.yaml")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			docs := splitDocs(t, helmTemplate(t, ".", tt.args...))
			sent := 0
			for _, doc := range docs {
				var head struct {
					metav1.TypeMeta `json:",inline"`
					Metadata        metav1.ObjectMeta `json:"metadata"`
				}
				if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
					continue
				}
				path, ok := restPath(head.Kind, head.Metadata.Namespace)
				if !ok {
					continue
				}
				obj := map[string]any{}
				if err := yaml.Unmarshal(doc, &obj); err != nil {
					t.Fatal(err)
				}
				code, out := srv.Do(t, http.MethodPost, path+"?dryRun=All&fieldValidation=Strict", obj)
				if code != http.StatusCreated {
					t.Errorf("%s %s/%s rejected: %d %s", head.Kind, head.Metadata.Namespace, head.Metadata.Name, code, out)
				}
				sent++
			}
			if sent < 10 {
				t.Errorf("only %d objects sent", sent)
			}
		})
	}
	t.Run("a pod injected with the local-tls values (CSI master key, TLS Secret) is valid", func(t *testing.T) {
		m := decodeAll(t, helmTemplate(t, ".", "-f", filepath.Join("ci", "local-tls-values.yaml")))
		cfg := checkInjectorConfig(t, m, one(t, "Deployment", m.deployments), images{
			injector: "ghcr.io/fieldseal/fieldseal-injector:0.1.0", sidecar: "ghcr.io/fieldseal/fieldseal:0.1.0"})
		pod := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "shop-api", Annotations: map[string]string{inject.AnnotationInject: "true"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "registry.example.com/shop/api:2.4.1",
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
		}
		dec, err := cfg.Decide(pod, "shop")
		if err != nil {
			t.Fatal(err)
		}
		if code, out := srv.Do(t, http.MethodPost, "/api/v1/namespaces/shop/pods?dryRun=All&fieldValidation=Strict", dec.Pod); code != http.StatusCreated {
			t.Errorf("injected pod rejected: %d %s", code, out)
		}
	})
}
