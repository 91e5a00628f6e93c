package inject_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fieldseal/fieldseal/inject"
	"github.com/fieldseal/fieldseal/inject/apiservertest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// The injector behind a real kube-apiserver (with a real etcd): the API server
// calls the webhook over TLS, applies its JSON patch and stores the injected
// pod. apiservertest.Start skips when the binaries are missing.

func TestInjectorBehindRealAPIServer(t *testing.T) {
	srv := apiservertest.Start(t)

	// The injector, serving a certificate from the same CA.
	injCrt, injKey := srv.IssueServing(t, "fieldseal-injector")
	cfg, err := inject.LoadConfig(filepath.Join("testdata", "injector.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() {
		runDone <- inject.Run(ctx, inject.ServerOptions{Listener: ln, CertFile: injCrt, KeyFile: injKey, Config: cfg, Logger: zerolog.Nop()})
	}()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("injector Run: %v", err)
		}
	}()

	// Register the webhook as the chart does, but by URL (no Service here).
	fail := "Fail"
	webhook := map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
		"metadata": map[string]any{"name": "fieldseal-injector"},
		"webhooks": []any{map[string]any{
			"name": "inject.fieldseal.io", "admissionReviewVersions": []string{"v1"}, "sideEffects": "None",
			"failurePolicy": fail, "timeoutSeconds": 10,
			"clientConfig":      map[string]any{"url": "https://" + ln.Addr().String() + "/mutate", "caBundle": srv.CAPEM},
			"rules":             []any{map[string]any{"operations": []string{"CREATE"}, "apiGroups": []string{""}, "apiVersions": []string{"v1"}, "resources": []string{"pods"}, "scope": "Namespaced"}},
			"namespaceSelector": map[string]any{"matchLabels": map[string]string{"fieldseal.io/injection": "enabled"}},
		}},
	}
	if code, body := srv.Do(t, http.MethodPost, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", webhook); code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", code, body)
	}
	for _, ns := range []struct {
		name   string
		labels map[string]string
	}{{"shop", map[string]string{"fieldseal.io/injection": "enabled"}}, {"plain", nil}} {
		body := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns.name, "labels": ns.labels}}
		if code, out := srv.Do(t, http.MethodPost, "/api/v1/namespaces", body); code != http.StatusCreated {
			t.Fatalf("create namespace %s: %d %s", ns.name, code, out)
		}
	}

	pod := func(name string, ann map[string]string) *corev1.Pod {
		return &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "api", Image: "registry.example.com/shop/api:2.4.1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			}}},
		}
	}
	create := func(ns string, p *corev1.Pod, dryRun bool) (int, []byte) {
		path := "/api/v1/namespaces/" + ns + "/pods"
		if dryRun {
			path += "?dryRun=All"
		}
		return srv.Do(t, http.MethodPost, path, p)
	}
	// stored creates p in the shop namespace and returns the pod the API
	// server stored, as read back.
	stored := func(t *testing.T, p *corev1.Pod) corev1.Pod {
		t.Helper()
		if code, body := create("shop", p, false); code != http.StatusCreated {
			t.Fatalf("create pod: %d %s", code, body)
		}
		code, body := srv.Do(t, http.MethodGet, "/api/v1/namespaces/shop/pods/"+p.Name, nil)
		if code != http.StatusOK {
			t.Fatalf("get pod: %d %s", code, body)
		}
		var got corev1.Pod
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		return got
	}

	// The API server picks up a new webhook configuration asynchronously:
	// wait (bounded) until a dry-run creation comes back injected.
	testproc.Poll(t, 60*time.Second, func() error {
		code, body := create("shop", pod("probe", map[string]string{inject.AnnotationInject: "true"}), true)
		if code != http.StatusCreated || !bytes.Contains(body, []byte(`"name":"fieldseal"`)) {
			return fmt.Errorf("webhook not effective: %d %s", code, body)
		}
		return nil
	})

	t.Run("an annotated pod is stored with the sidecar and read back injected", func(t *testing.T) {
		got := stored(t, pod("shop-api", map[string]string{inject.AnnotationInject: "true"}))
		if got.Annotations[inject.AnnotationStatus] != inject.StatusInjected {
			t.Errorf("status annotation = %q", got.Annotations[inject.AnnotationStatus])
		}
		if len(got.Spec.Containers) != 2 || got.Spec.Containers[1].Name != inject.ContainerName {
			t.Fatalf("containers = %+v, want api + fieldseal", got.Spec.Containers)
		}
		c := got.Spec.Containers[1]
		if !strings.Contains(strings.Join(c.Args, " "), "--upstream http://127.0.0.1:8080") || c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
			t.Errorf("sidecar = %+v", c)
		}
	})
	t.Run("a pod naming a TLS Secret is stored with the Secret mounted and HTTPS probes", func(t *testing.T) {
		got := stored(t, pod("tls-api", map[string]string{inject.AnnotationInject: "true", inject.AnnotationTLSSecret: "shop-api-tls"}))
		c := got.Spec.Containers[len(got.Spec.Containers)-1]
		var tlsVol *corev1.Volume
		for i, v := range got.Spec.Volumes {
			if v.Name == inject.TLSVolumeName {
				tlsVol = &got.Spec.Volumes[i]
			}
		}
		if c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS || c.LivenessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS ||
			!strings.Contains(strings.Join(c.Args, " "), "--admin-tls-cert-file /var/run/fieldseal/tls/tls.crt") ||
			tlsVol == nil || tlsVol.Secret.SecretName != "shop-api-tls" {
			t.Errorf("stored sidecar %+v with volume %+v: want HTTPS probes, TLS flags and the Secret", c, tlsVol)
		}
	})
	t.Run("a pod with a bad annotation is refused by the API server with the injector's message", func(t *testing.T) {
		code, body := create("shop", pod("bad", map[string]string{inject.AnnotationInject: "true", inject.AnnotationAdminPort: "8080"}), false)
		if code != http.StatusBadRequest || !bytes.Contains(body, []byte(`annotation fieldseal.io/admin-port: \"8080\" clashes`)) {
			t.Errorf("create: %d %s, want 400 with the injector's message", code, body)
		}
	})
	t.Run("a pod in a namespace without the opt-in label is not sent to the injector", func(t *testing.T) {
		code, body := create("plain", pod("plain-api", map[string]string{inject.AnnotationInject: "true"}), false)
		if code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, body)
		}
		if bytes.Contains(body, []byte(`"name":"fieldseal"`)) {
			t.Errorf("pod in an unlabelled namespace was injected")
		}
	})
}
