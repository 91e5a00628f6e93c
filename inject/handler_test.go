package inject

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch5 "github.com/evanphx/json-patch/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

func testConfig(t testing.TB) Config {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join("testdata", "injector.yaml"))
	if err != nil {
		t.Fatalf("load test injector config: %v", err)
	}
	return cfg
}

func testHandler(t testing.TB, reg prometheus.Registerer) *Handler {
	t.Helper()
	h, err := NewHandler(testConfig(t), HandlerOptions{Logger: zerolog.Nop(), Registerer: reg})
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return h
}

func readReview(t testing.TB, name string) (raw []byte, review admissionv1.AdmissionReview) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "reviews", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &review); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	return raw, review
}

// applyPatch applies resp's JSON patch to the pod exactly as the API server
// sent it (raw, including fields this build's types do not know).
func applyPatch(t *testing.T, podRaw []byte, resp *admissionv1.AdmissionResponse) []byte {
	t.Helper()
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patch type = %v, want JSONPatch", resp.PatchType)
	}
	p, err := jsonpatch5.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatalf("decode patch: %v\n%s", err, resp.Patch)
	}
	out, err := p.Apply(podRaw)
	if err != nil {
		t.Fatalf("apply patch: %v\n%s", err, resp.Patch)
	}
	return out
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	sidecartest.Golden(t, filepath.Join("testdata", "golden", name+".pod.json"), buf.Bytes(), *update)
}

func sidecar(t *testing.T, pod *corev1.Pod) corev1.Container {
	t.Helper()
	var found []corev1.Container
	for _, c := range pod.Spec.Containers {
		if c.Name == ContainerName {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("pod has %d containers named %s, want 1", len(found), ContainerName)
	}
	return found[0]
}

func TestReviewInjects(t *testing.T) {
	tests := []struct {
		name                    string
		fixture                 string
		listen, upstream, admin int32
		provider, configMap     string
		image                   string
		memLimit                string
		outbound                bool
		tlsSecret               string
	}{
		{"a pod with only the inject annotation gets the chart defaults and the app's port as upstream",
			"inject-defaults", 18080, 8080, 19090, "local", "fieldseal-fieldmap", "ghcr.io/fieldseal/fieldseal:0.1.0", "128Mi", false, ""},
		{"every annotation overrides its default",
			"inject-all-annotations", 9443, 8081, 9901, "aws", "orders-fieldmap", "ghcr.io/fieldseal/fieldseal:0.1.0-debug", "256Mi", false, "orders-tls"},
		{"a pod without ports or volumes gets the default upstream port and a volumes list",
			"inject-no-ports-no-volumes", 18080, 8080, 19090, "local", "fieldseal-fieldmap", "ghcr.io/fieldseal/fieldseal:0.1.0", "128Mi", false, ""},
		{"an outbound sidecar listens on loopback only and takes its upstream from the config",
			"inject-outbound", 18080, 0, 19090, "aws", "fieldseal-fieldmap", "ghcr.io/fieldseal/fieldseal:0.1.0", "128Mi", true, ""},
	}
	h := testHandler(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, review := readReview(t, tt.fixture)
			resp := h.Review(review.Request)
			if !resp.Allowed || resp.UID != review.Request.UID {
				t.Fatalf("allowed=%v uid=%q, want allowed with uid %q: %+v", resp.Allowed, resp.UID, review.Request.UID, resp.Result)
			}
			patched := applyPatch(t, review.Request.Object.Raw, resp)
			compareGolden(t, tt.fixture, patched)

			var pod corev1.Pod
			if err := json.Unmarshal(patched, &pod); err != nil {
				t.Fatal(err)
			}
			if pod.Annotations[AnnotationStatus] != StatusInjected {
				t.Errorf("status annotation = %q", pod.Annotations[AnnotationStatus])
			}
			if pod.Spec.Containers[0].Name == ContainerName {
				t.Errorf("sidecar placed before the app container")
			}
			c := sidecar(t, &pod)
			if c.Image != tt.image {
				t.Errorf("image = %q, want %q", c.Image, tt.image)
			}
			args := strings.Join(c.Args, " ")
			wantArgs := []string{
				"serve --config /etc/fieldseal/config.yaml",
				"--admin-listen 0.0.0.0:" + itoa(tt.admin),
				"--key-provider " + tt.provider,
			}
			if tt.outbound {
				wantArgs = append(wantArgs, "--listen 127.0.0.1:"+itoa(tt.listen))
				if strings.Contains(args, "--upstream") {
					t.Errorf("outbound args %q set --upstream; the store comes from the config", args)
				}
			} else {
				wantArgs = append(wantArgs, "--listen 0.0.0.0:"+itoa(tt.listen), "--upstream http://127.0.0.1:"+itoa(tt.upstream))
			}
			for _, want := range wantArgs {
				if !strings.Contains(args, want) {
					t.Errorf("args %q lack %q", args, want)
				}
			}
			if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.IntVal != tt.admin ||
				c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port.IntVal != tt.admin {
				t.Errorf("probes do not target the admin port %d: %+v %+v", tt.admin, c.ReadinessProbe, c.LivenessProbe)
			}
			wantScheme, tlsArgs := corev1.URISchemeHTTP, "--tls-cert-file /var/run/fieldseal/tls/tls.crt --tls-key-file /var/run/fieldseal/tls/tls.key --admin-tls-cert-file /var/run/fieldseal/tls/tls.crt --admin-tls-key-file /var/run/fieldseal/tls/tls.key"
			if tt.tlsSecret != "" {
				wantScheme = corev1.URISchemeHTTPS
				if !strings.Contains(args, tlsArgs) {
					t.Errorf("args %q do not serve both listeners from the TLS Secret's files", args)
				}
				if v := volume(&pod, TLSVolumeName); v == nil || v.Secret == nil || v.Secret.SecretName != tt.tlsSecret || !mountedAt(c, TLSVolumeName, TLSMountPath) {
					t.Errorf("TLS Secret %q not mounted at %s: %+v", tt.tlsSecret, TLSMountPath, v)
				}
			} else if strings.Contains(args, "tls") || volume(&pod, TLSVolumeName) != nil {
				t.Errorf("without a TLS Secret the sidecar got TLS args %q or a TLS volume", args)
			}
			if c.ReadinessProbe.HTTPGet.Scheme != wantScheme || c.LivenessProbe.HTTPGet.Scheme != wantScheme {
				t.Errorf("probe schemes %s/%s, want %s", c.ReadinessProbe.HTTPGet.Scheme, c.LivenessProbe.HTTPGet.Scheme, wantScheme)
			}
			sc := c.SecurityContext
			if sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
				len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("security context is not restrictive: %+v", sc)
			}
			if got := c.Resources.Limits[corev1.ResourceMemory]; got.Cmp(resource.MustParse(tt.memLimit)) != 0 {
				t.Errorf("memory limit = %s, want %s", got.String(), tt.memLimit)
			}
			var cm string
			for _, v := range pod.Spec.Volumes {
				if v.Name == ConfigVolumeName && v.ConfigMap != nil {
					cm = v.ConfigMap.Name
				}
			}
			if cm != tt.configMap {
				t.Errorf("field-map volume ConfigMap = %q, want %q", cm, tt.configMap)
			}
			var mounted bool
			for _, m := range c.VolumeMounts {
				if m.Name == ConfigVolumeName && m.MountPath == ConfigMountPath && m.ReadOnly {
					mounted = true
				}
			}
			if !mounted {
				t.Errorf("field map not mounted read-only at %s: %+v", ConfigMountPath, c.VolumeMounts)
			}
			hasEnv := func(name string) bool {
				for _, e := range c.Env {
					if e.Name == name {
						return true
					}
				}
				return false
			}
			if tt.provider == ProviderLocal && (!hasEnv(EnvMasterKey) || hasEnv(EnvAWSRegion)) {
				t.Errorf("local provider env = %+v, want only %s", c.Env, EnvMasterKey)
			}
			if tt.provider == ProviderLocal {
				ref := c.Env[0].ValueFrom.SecretKeyRef
				ring := volume(&pod, KeysVolumeName)
				if ref.Name != DefaultMasterKeySecret || ring == nil || ring.Secret.SecretName == ref.Name ||
					len(ring.Secret.Items) != 1 || ring.Secret.Items[0].Key != LocalSecretRingKey {
					t.Errorf("master key from %+v and ring from %+v: want two Secrets, the ring's holding only %s", ref, ring, LocalSecretRingKey)
				}
			}
			if tt.provider == ProviderAWS && (hasEnv(EnvMasterKey) || !hasEnv(EnvAWSRegion)) {
				t.Errorf("aws provider env = %+v, want only %s", c.Env, EnvAWSRegion)
			}

			t.Run("reviewing the injected pod again changes nothing", func(t *testing.T) {
				again := *review.Request
				again.Object.Raw = patched
				resp := h.Review(&again)
				if !resp.Allowed || resp.Patch != nil {
					t.Errorf("second review: allowed=%v patch=%s, want allowed without patch", resp.Allowed, resp.Patch)
				}
			})
		})
	}
}

func volume(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

func mountedAt(c corev1.Container, name, dir string) bool {
	for _, m := range c.VolumeMounts {
		if m.Name == name && m.MountPath == dir && m.ReadOnly {
			return true
		}
	}
	return false
}

func itoa(n int32) string { return resource.NewQuantity(int64(n), resource.DecimalSI).String() }

func TestReviewSkips(t *testing.T) {
	tests := []struct{ name, fixture string }{
		{"a pod without the inject annotation is admitted unchanged", "skip-no-annotation"},
		{"a pod with inject false is admitted unchanged", "skip-inject-false"},
		{"a pod with the injected status annotation is admitted unchanged", "skip-already-injected-status"},
		{"a pod that already has a fieldseal container is admitted unchanged", "skip-has-fieldseal-container"},
		{"a pod in kube-system is never injected", "skip-kube-system"},
		{"a pod in the injector's own namespace is never injected", "skip-injector-namespace"},
		{"a pod update is not a creation and is left alone", "skip-update-operation"},
	}
	h := testHandler(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, review := readReview(t, tt.fixture)
			resp := h.Review(review.Request)
			if !resp.Allowed || resp.Patch != nil || resp.PatchType != nil || resp.Result != nil {
				t.Errorf("got allowed=%v patch=%s result=%+v, want a plain allow", resp.Allowed, resp.Patch, resp.Result)
			}
		})
	}
}

func TestReviewDenies(t *testing.T) {
	tests := []struct{ name, fixture, want string }{
		{"a non-numeric listen port is refused", "deny-port-not-numeric",
			`annotation fieldseal.io/listen-port: "http" is not a port number (1-65535)`},
		{"an admin port used by the app container is refused", "deny-port-clash",
			`annotation fieldseal.io/admin-port: "8080" clashes with a port of container "api"`},
		{"a memory limit that is not a quantity is refused", "deny-bad-quantity",
			`annotation fieldseal.io/memory-limit: "lots" is not a positive resource quantity`},
		{"an inject value that is not a boolean is refused", "deny-inject-not-boolean",
			`annotation fieldseal.io/inject: "yes please" is not a boolean`},
		{"an image outside the allow list is refused", "deny-image-not-allowed",
			`annotation fieldseal.io/image: "docker.io/evil/fieldseal:latest" is not an allowed sidecar image`},
		{"an unknown key provider is refused", "deny-bad-key-provider",
			`annotation fieldseal.io/key-provider: "vault" is not a key provider`},
		{"a memory request above the limit is refused", "deny-request-above-limit",
			`memory request 512Mi exceeds its limit 128Mi`},
		{"a pod that already has a volume named like the sidecar's is refused", "deny-volume-name-taken",
			`volume "fieldseal-config" already exists`},
		{"an unknown topology is refused", "deny-bad-topology",
			`annotation fieldseal.io/topology: "sideways" is not a topology`},
		{"an upstream port on an outbound sidecar is refused", "deny-outbound-with-upstream-port",
			`annotation fieldseal.io/upstream-port: "9200" does not apply to the outbound topology`},
		{"a listen port used by an init container is refused", "deny-init-container-port-clash",
			`annotation fieldseal.io/listen-port: "18080" clashes with a port of container "migrate"`},
	}
	h := testHandler(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, review := readReview(t, tt.fixture)
			resp := h.Review(review.Request)
			if resp.Allowed || resp.Patch != nil {
				t.Fatalf("allowed=%v patch=%s, want a denial", resp.Allowed, resp.Patch)
			}
			if resp.UID != review.Request.UID || resp.Result == nil || resp.Result.Code != http.StatusBadRequest {
				t.Fatalf("uid=%q result=%+v, want uid %q and code 400", resp.UID, resp.Result, review.Request.UID)
			}
			if !strings.HasPrefix(resp.Result.Message, "fieldseal injector: ") || !strings.Contains(resp.Result.Message, tt.want) {
				t.Errorf("message = %q, want it to contain %q", resp.Result.Message, tt.want)
			}
		})
	}
}

func TestHandlerOverTLS(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := testHandler(t, reg)
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	client := srv.Client()

	post := func(t *testing.T, body []byte, contentType string) (*http.Response, admissionv1.AdmissionReview) {
		t.Helper()
		resp, err := client.Post(srv.URL+"/mutate", contentType, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out admissionv1.AdmissionReview
		if resp.StatusCode == http.StatusOK {
			dec := json.NewDecoder(resp.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&out); err != nil {
				t.Fatalf("decode response review: %v", err)
			}
		}
		return resp, out
	}

	t.Run("an injection review round-trips as an admission.k8s.io/v1 AdmissionReview", func(t *testing.T) {
		raw, review := readReview(t, "inject-defaults")
		resp, out := post(t, raw, "application/json")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response == nil {
			t.Fatalf("response review = %+v", out)
		}
		if out.Response.UID != review.Request.UID || !out.Response.Allowed {
			t.Fatalf("response = %+v", out.Response)
		}
		compareGolden(t, "inject-defaults", applyPatch(t, review.Request.Object.Raw, out.Response))
	})
	t.Run("a denial round-trips with its message", func(t *testing.T) {
		raw, _ := readReview(t, "deny-port-clash")
		_, out := post(t, raw, "application/json; charset=utf-8")
		if out.Response == nil || out.Response.Allowed || !strings.Contains(out.Response.Result.Message, "clashes") {
			t.Fatalf("response = %+v", out.Response)
		}
	})
	t.Run("a body that is not an AdmissionReview is a 400", func(t *testing.T) {
		resp, _ := post(t, []byte(`{"kind":"Pod"}`), "application/json")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("a non-JSON content type is a 415", func(t *testing.T) {
		resp, _ := post(t, []byte(`x`), "text/plain")
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("status %d, want 415", resp.StatusCode)
		}
	})
	t.Run("a GET is a 405", func(t *testing.T) {
		resp, err := client.Get(srv.URL + "/mutate")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", resp.StatusCode)
		}
	})
	t.Run("outcomes are counted", func(t *testing.T) {
		for outcome, want := range map[string]float64{"injected": 1, "denied": 1, "invalid": 3} {
			if got := counterValue(t, h.metrics.reviews.WithLabelValues(outcome)); got != want {
				t.Errorf("fieldseal_inject_reviews_total{outcome=%q} = %v, want %v", outcome, got, want)
			}
		}
	})
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestReviewLogsOneEventPerReview(t *testing.T) {
	tests := []struct {
		name, fixture, level, outcome string
	}{
		{"an injection is logged at info", "inject-defaults", "info", "injected"},
		{"a denial is logged at warn with its reason", "deny-port-clash", "warn", "denied"},
		{"a skip is logged at debug", "skip-no-annotation", "debug", "skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h, err := NewHandler(testConfig(t), HandlerOptions{Logger: zerolog.New(&buf)})
			if err != nil {
				t.Fatal(err)
			}
			_, review := readReview(t, tt.fixture)
			h.Review(review.Request)
			lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1:\n%s", len(lines), buf.String())
			}
			var ev map[string]string
			if err := json.Unmarshal(lines[0], &ev); err != nil {
				t.Fatal(err)
			}
			if ev["event"] != "inject_review" || ev["level"] != tt.level || ev["outcome"] != tt.outcome ||
				ev["namespace"] != "shop" || ev["uid"] != string(review.Request.UID) || ev["pod"] == "" {
				t.Errorf("event = %v", ev)
			}
			if tt.outcome == "denied" && !strings.Contains(ev["reason"], "fieldseal.io/admin-port") {
				t.Errorf("denial reason = %q", ev["reason"])
			}
		})
	}
}
