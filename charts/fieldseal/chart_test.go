// Package chart_test renders the Helm chart with `helm template` and decodes
// every manifest strictly into k8s.io/api types.
package chart_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/fieldseal/fieldseal/inject"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml")

const (
	release   = "fs-test"
	namespace = "fieldseal-system"
	// kubeVersion is passed to helm template so that the rendering, and the golden
	// files, do not depend on the Kubernetes version a helm release assumes.
	kubeVersion = "1.31.0"
)

// helmBinary finds the helm that .ci/tools.sh pins in the repository's tool cache
// ($FIELDSEAL_CACHE/bin, by default .cache/bin; the golden files are rendered with
// it), else helm on PATH. Outside CI a missing helm skips the test.
func helmBinary(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("FIELDSEAL_CACHE")
	if cache == "" {
		cache = filepath.Join("..", "..", ".cache")
	}
	if p, err := filepath.Abs(filepath.Join(cache, "bin", "helm")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	const msg = "helm not found in the tool cache (.cache/bin) or on PATH; `bash .ci/tools.sh helm` installs it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func helmTemplate(t *testing.T, chartDir string, args ...string) []byte {
	t.Helper()
	return helmPlain(t, append([]string{"template", release, chartDir, "--namespace", namespace, "--kube-version", kubeVersion}, args...)...)
}

// helm runs the helm binary with args, bounded by two minutes, and returns
// its standard output, or a *helmFailure that holds its standard error.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBinary(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &helmFailure{args: args, err: err, stderr: stderr.String()}
	}
	return out, nil
}

// helmFailure is a helm run that failed: its arguments, its exit error and
// its standard error. Tests that expect a refusal match the standard error
// alone, never the arguments, which often hold the very word expected.
type helmFailure struct {
	args   []string
	err    error
	stderr string
}

func (f *helmFailure) Error() string {
	return fmt.Sprintf("helm %s: %v\n%s", strings.Join(f.args, " "), f.err, f.stderr)
}

func (f *helmFailure) Unwrap() error { return f.err }

// manifests holds the rendered objects, decoded strictly, by kind.
type manifests struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	secrets     []*corev1.Secret
	configMaps  []*corev1.ConfigMap
	sas         []*corev1.ServiceAccount
	pdbs        []*policyv1.PodDisruptionBudget
	roles       []*rbacv1.Role
	bindings    []*rbacv1.RoleBinding
	webhooks    []*admissionregistrationv1.MutatingWebhookConfiguration
	cronJobs    []*batchv1.CronJob
	jobs        []*batchv1.Job
	issuers     []*cmIssuer
	certs       []*cmCertificate
	kinds       []string
}

// cert-manager has no k8s.io/api types; these carry exactly the fields the
// chart renders, so strict decoding still rejects anything unexpected.
type cmIssuer struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		SelfSigned *struct{} `json:"selfSigned,omitempty"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca,omitempty"`
	} `json:"spec"`
}

type cmCertificate struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		IsCA        bool     `json:"isCA,omitempty"`
		CommonName  string   `json:"commonName,omitempty"`
		SecretName  string   `json:"secretName"`
		Duration    string   `json:"duration,omitempty"`
		RenewBefore string   `json:"renewBefore,omitempty"`
		DNSNames    []string `json:"dnsNames,omitempty"`
		Usages      []string `json:"usages,omitempty"`
		PrivateKey  struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey"`
		IssuerRef struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group,omitempty"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// splitDocs splits a multi-document YAML stream.
func splitDocs(t *testing.T, rendered []byte) [][]byte {
	t.Helper()
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(rendered)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("split rendered YAML: %v", err)
		}
		docs = append(docs, doc)
	}
}

// decodeAll splits a multi-document YAML stream and decodes each object
// strictly (unknown or duplicate fields are errors) into its typed struct.
func decodeAll(t *testing.T, rendered []byte) *manifests {
	t.Helper()
	m := &manifests{}
	for _, doc := range splitDocs(t, rendered) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("read kind: %v\n%s", err, doc)
		}
		if tm.Kind == "" {
			continue // comment-only document
		}
		m.kinds = append(m.kinds, tm.Kind)
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			obj = appendNew(&m.deployments)
		case "v1 Service":
			obj = appendNew(&m.services)
		case "v1 Secret":
			obj = appendNew(&m.secrets)
		case "v1 ConfigMap":
			obj = appendNew(&m.configMaps)
		case "v1 ServiceAccount":
			obj = appendNew(&m.sas)
		case "policy/v1 PodDisruptionBudget":
			obj = appendNew(&m.pdbs)
		case "rbac.authorization.k8s.io/v1 Role":
			obj = appendNew(&m.roles)
		case "rbac.authorization.k8s.io/v1 RoleBinding":
			obj = appendNew(&m.bindings)
		case "admissionregistration.k8s.io/v1 MutatingWebhookConfiguration":
			obj = appendNew(&m.webhooks)
		case "batch/v1 CronJob":
			obj = appendNew(&m.cronJobs)
		case "batch/v1 Job":
			obj = appendNew(&m.jobs)
		case "cert-manager.io/v1 Issuer":
			obj = appendNew(&m.issuers)
		case "cert-manager.io/v1 Certificate":
			obj = appendNew(&m.certs)
		default:
			t.Fatalf("unexpected object %s %s (add it to decodeAll with its k8s.io/api type)", tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("strict decode of %s: %v\n%s", tm.Kind, err, doc)
		}
	}
	return m
}

// appendNew appends a new zero T to *list and returns it, for decoding into.
func appendNew[T any](list *[]*T) *T {
	o := new(T)
	*list = append(*list, o)
	return o
}

func one[T any](t *testing.T, kind string, xs []T) T {
	t.Helper()
	if len(xs) != 1 {
		t.Fatalf("rendered %d %s, want 1", len(xs), kind)
	}
	return xs[0]
}

func checkRestrictive(t *testing.T, what string, sc *corev1.SecurityContext) {
	t.Helper()
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s security context is not restrictive: %+v", what, sc)
	}
}

func checkMinimalRBAC(t *testing.T, m *manifests, wantRules int) {
	t.Helper()
	for _, k := range m.kinds {
		if k == "ClusterRole" || k == "ClusterRoleBinding" {
			t.Errorf("chart renders a %s; the injector needs no cluster-wide access", k)
		}
	}
	role := one(t, "Role", m.roles)
	if len(role.Rules) != wantRules {
		t.Errorf("Role has %d rules, want %d: %+v", len(role.Rules), wantRules, role.Rules)
	}
	for _, r := range role.Rules {
		if slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "*") || slices.Contains(r.Verbs, "*") || slices.Contains(r.APIGroups, "*") {
			t.Errorf("Role rule %+v grants secrets or wildcards", r)
		}
	}
	b := one(t, "RoleBinding", m.bindings)
	if b.RoleRef.Kind != "Role" || b.RoleRef.Name != role.Name || len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" {
		t.Errorf("RoleBinding %+v does not bind only the injector's ServiceAccount to its Role", b)
	}
}

func injectorContainer(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	return one(t, "injector container", d.Spec.Template.Spec.Containers)
}

func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func configMapNamed(m *manifests, name, ns string) *corev1.ConfigMap {
	for _, c := range m.configMaps {
		if c.Name == name && c.Namespace == ns {
			return c
		}
	}
	return nil
}

// images are the two image references the chart renders: the injector's
// own, and the sidecar's (what the injector adds to pods, and what the
// rotation job runs).
type images struct{ injector, sidecar string }

// checkInjectorConfig loads the rendered injector.yaml with inject.LoadConfig,
// exactly as `fieldseal-injector --config` does, and checks that the
// injector runs its own image and binary while adding the sidecar image.
func checkInjectorConfig(t *testing.T, m *manifests, d *appsv1.Deployment, want images) inject.Config {
	t.Helper()
	c := injectorContainer(t, d)
	cmName := ""
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	cm := configMapNamed(m, cmName, namespace)
	if cm == nil {
		t.Fatalf("injector ConfigMap %q not rendered", cmName)
	}
	path := filepath.Join(t.TempDir(), "injector.yaml")
	if err := os.WriteFile(path, []byte(cm.Data["injector.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if want := "/etc/fieldseal-injector/config/injector.yaml"; argAfter(c.Args, "--config") != want {
		t.Errorf("injector --config = %q, want %q", argAfter(c.Args, "--config"), want)
	}
	cfg, err := inject.LoadConfig(path)
	if err != nil {
		t.Fatalf("rendered injector config does not load: %v\n%s", err, cm.Data["injector.yaml"])
	}
	if c.Image != want.injector {
		t.Errorf("injector container image = %q, want %q", c.Image, want.injector)
	}
	if !slices.Equal(c.Command, []string{"/fieldseal-injector"}) || len(c.Args) == 0 || !strings.HasPrefix(c.Args[0], "--") {
		t.Errorf("injector command %v args %v, want /fieldseal-injector with flags only", c.Command, c.Args)
	}
	if cfg.Image != want.sidecar {
		t.Errorf("sidecar image in the injector config = %q, want %q", cfg.Image, want.sidecar)
	}
	for _, cj := range m.cronJobs {
		for _, jc := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers {
			if jc.Image != want.sidecar {
				t.Errorf("CronJob %s runs image %q, want the sidecar image %q (it runs fieldseal keys)", cj.Name, jc.Image, want.sidecar)
			}
		}
	}
	for _, ns := range []string{"kube-system", namespace} {
		if !slices.Contains(cfg.SkipNamespaces, ns) {
			t.Errorf("injector does not skip namespace %s: %v", ns, cfg.SkipNamespaces)
		}
	}
	return cfg
}

// sidecarConfigKeys are the top-level keys of the fieldseal config
// (CONTRACTS.md); the rendered config.yaml may use no others.
var sidecarConfigKeys = []string{"listen", "upstream", "admin_listen", "limits", "on_open_error", "keys", "log", "classes", "routes", "auth", "policies", "audit"}

func checkFieldMap(t *testing.T, cm *corev1.ConfigMap, provider string) {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
		t.Fatalf("field map %s/%s config.yaml: %v", cm.Namespace, cm.Name, err)
	}
	for k := range cfg {
		if !slices.Contains(sidecarConfigKeys, k) {
			t.Errorf("field map %s/%s has unknown top-level key %q", cm.Namespace, cm.Name, k)
		}
	}
	keys, _ := cfg["keys"].(map[string]any)
	if keys["provider"] != provider || keys[provider] == nil {
		t.Errorf("field map keys = %v, want provider %s with its section", keys, provider)
	}
	if routes, _ := cfg["routes"].([]any); len(routes) == 0 {
		t.Errorf("field map has no routes")
	}
}

func TestChartDefaultValues(t *testing.T) {
	rendered := helmTemplate(t, ".")
	m := decodeAll(t, rendered)

	d := one(t, "Deployment", m.deployments)
	t.Run("the injector runs two spread replicas with a disruption budget", func(t *testing.T) {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
			t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
		}
		aa := d.Spec.Template.Spec.Affinity
		if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 ||
			aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
			t.Errorf("no anti-affinity over nodes: %+v", aa)
		}
		pdb := one(t, "PodDisruptionBudget", m.pdbs)
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 ||
			!equality.Semantic.DeepEqual(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
			t.Errorf("PDB %+v does not keep one injector up", pdb.Spec)
		}
	})
	t.Run("the injector is locked down", func(t *testing.T) {
		c := injectorContainer(t, d)
		checkRestrictive(t, "injector", c.SecurityContext)
		ps := d.Spec.Template.Spec
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("injector mounts a ServiceAccount token it does not need")
		}
		if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
			t.Errorf("pod security context is not non-root: %+v", ps.SecurityContext)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS || c.ReadinessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("readiness probe = %+v", c.ReadinessProbe)
		}
		checkMinimalRBAC(t, m, 0)
	})
	t.Run("the injector config loads and matches the chart", func(t *testing.T) {
		cfg := checkInjectorConfig(t, m, d, images{injector: "ghcr.io/fieldseal/fieldseal-injector:0.1.0", sidecar: "ghcr.io/fieldseal/fieldseal:0.1.0"})
		if cfg.Keys.Provider != "aws" || cfg.ListenPort != 18080 || cfg.AdminPort != 19090 {
			t.Errorf("injector config = %+v", cfg)
		}
	})

	wh := one(t, "MutatingWebhookConfiguration", m.webhooks)
	w := one(t, "webhook", wh.Webhooks)
	svc := one(t, "Service", m.services)
	t.Run("the webhook is admission/v1, side-effect free, fail-closed and bounded", func(t *testing.T) {
		if !slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) || w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNone {
			t.Errorf("versions %v side effects %v", w.AdmissionReviewVersions, w.SideEffects)
		}
		if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
			t.Errorf("failurePolicy = %v, want Fail", w.FailurePolicy)
		}
		if w.TimeoutSeconds == nil || *w.TimeoutSeconds < 1 || *w.TimeoutSeconds > 30 {
			t.Errorf("timeoutSeconds = %v", w.TimeoutSeconds)
		}
		ref := w.ClientConfig.Service
		if ref == nil || ref.Name != svc.Name || ref.Namespace != namespace || ref.Path == nil || *ref.Path != "/mutate" {
			t.Errorf("webhook service ref %+v does not reach Service %s /mutate", ref, svc.Name)
		}
		if len(w.Rules) != 1 || !slices.Equal(w.Rules[0].Resources, []string{"pods"}) || !slices.Equal(w.Rules[0].Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Create}) {
			t.Errorf("rules = %+v, want pod CREATE only", w.Rules)
		}
		var excluded []string
		for _, e := range w.NamespaceSelector.MatchExpressions {
			if e.Key == "kubernetes.io/metadata.name" && e.Operator == metav1.LabelSelectorOpNotIn {
				excluded = e.Values
			}
		}
		if !slices.Contains(excluded, "kube-system") || !slices.Contains(excluded, namespace) {
			t.Errorf("namespaceSelector does not exclude kube-system and %s: %+v", namespace, w.NamespaceSelector)
		}
		if w.NamespaceSelector.MatchLabels["fieldseal.io/injection"] != "enabled" {
			t.Errorf("namespaceSelector is not opt-in: %+v", w.NamespaceSelector)
		}
	})
	t.Run("the generated caBundle signs the certificate the injector serves", func(t *testing.T) {
		if len(w.ClientConfig.CABundle) == 0 {
			t.Fatal("webhook has no caBundle")
		}
		secretName := ""
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				secretName = v.Secret.SecretName
			}
		}
		var sec *corev1.Secret
		for _, s := range m.secrets {
			if s.Name == secretName {
				sec = s
			}
		}
		if sec == nil || sec.Type != corev1.SecretTypeTLS {
			t.Fatalf("TLS Secret %q mounted by the injector is not rendered as kubernetes.io/tls", secretName)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(w.ClientConfig.CABundle) {
			t.Fatal("caBundle is not PEM certificates")
		}
		blk, _ := pem.Decode(sec.Data["tls.crt"])
		if blk == nil {
			t.Fatal("tls.crt is not PEM")
		}
		leaf, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		dns := fmt.Sprintf("%s.%s.svc", svc.Name, namespace)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: dns, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("serving certificate does not verify for %s against the caBundle: %v", dns, err)
		}
		if !bytes.Equal(sec.Data["ca.crt"], w.ClientConfig.CABundle) {
			t.Errorf("Secret ca.crt differs from the webhook caBundle (lookup on upgrade reuses ca.crt)")
		}
	})
	t.Run("the rotation CronJob runs keys rotate --if-cmk-rotated --if-older-than 90d under its own locked-down account", func(t *testing.T) {
		cj := one(t, "CronJob", m.cronJobs)
		ps := cj.Spec.JobTemplate.Spec.Template.Spec
		c := one(t, "rotation container", ps.Containers)
		if want := []string{"keys", "rotate", "--if-cmk-rotated", "--if-older-than", "90d", "--config", "/etc/fieldseal/config.yaml"}; !slices.Equal(c.Args, want) {
			t.Errorf("args = %v, want %v", c.Args, want)
		}
		checkRestrictive(t, "rotation", c.SecurityContext)
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || ps.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("concurrency %s restart %s", cj.Spec.ConcurrencyPolicy, ps.RestartPolicy)
		}
		if ps.ServiceAccountName == d.Spec.Template.Spec.ServiceAccountName {
			t.Errorf("rotation job shares the injector's ServiceAccount %s", ps.ServiceAccountName)
		}
		vol := one(t, "rotation volume", ps.Volumes)
		cm := configMapNamed(m, vol.ConfigMap.Name, namespace)
		if cm == nil {
			t.Fatalf("rotation job mounts ConfigMap %q which is not rendered in %s", vol.ConfigMap.Name, namespace)
		}
		checkFieldMap(t, cm, "aws")
	})
}

func TestChartCustomValues(t *testing.T) {
	rendered := helmTemplate(t, ".", "-f", filepath.Join("ci", "custom-values.yaml"))
	compareGolden(t, "custom-values", rendered)
	m := decodeAll(t, rendered)

	d := one(t, "Deployment", m.deployments)
	wh := one(t, "MutatingWebhookConfiguration", m.webhooks)
	w := one(t, "webhook", wh.Webhooks)
	t.Run("cert-manager issues the serving certificate and injects the CA", func(t *testing.T) {
		if len(w.ClientConfig.CABundle) != 0 {
			t.Errorf("caBundle set in cert-manager mode; the cainjector owns it")
		}
		for _, s := range m.secrets {
			if s.Type == corev1.SecretTypeTLS {
				t.Errorf("Helm-generated TLS Secret %s rendered in cert-manager mode", s.Name)
			}
		}
		var serving *cmCertificate
		for _, c := range m.certs {
			if !c.Spec.IsCA {
				serving = c
			}
		}
		if serving == nil {
			t.Fatal("no serving Certificate")
		}
		if got, want := wh.Annotations["cert-manager.io/inject-ca-from"], namespace+"/"+serving.Metadata.Name; got != want {
			t.Errorf("inject-ca-from = %q, want %q", got, want)
		}
		var mounted string
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				mounted = v.Secret.SecretName
			}
		}
		if serving.Spec.SecretName != mounted {
			t.Errorf("Certificate writes %q but the injector mounts %q", serving.Spec.SecretName, mounted)
		}
		svcDNS := fmt.Sprintf("%s.%s.svc", one(t, "Service", m.services).Name, namespace)
		if !slices.Contains(serving.Spec.DNSNames, svcDNS) {
			t.Errorf("dnsNames %v lack %s", serving.Spec.DNSNames, svcDNS)
		}
		if len(m.issuers) != 2 {
			t.Errorf("%d Issuers, want self-signed + CA", len(m.issuers))
		}
	})
	t.Run("values reach the objects", func(t *testing.T) {
		if *d.Spec.Replicas != 3 || one(t, "PodDisruptionBudget", m.pdbs).Spec.MinAvailable.IntValue() != 2 {
			t.Errorf("replicas/minAvailable not from values")
		}
		if *w.FailurePolicy != admissionregistrationv1.Ignore || *w.TimeoutSeconds != 10 || w.ObjectSelector == nil || len(w.ObjectSelector.MatchExpressions) != 1 {
			t.Errorf("webhook = %+v", w)
		}
		cfg := checkInjectorConfig(t, m, d, images{
			injector: "registry.example.com/sec/fieldseal-injector:0.1.0-rc1",
			sidecar:  "registry.example.com/sec/fieldseal:0.1.0-rc1",
		})
		if cfg.ListenPort != 9443 || cfg.UpstreamPort != 3000 || cfg.AdminPort != 9901 || !slices.Contains(cfg.SkipNamespaces, "monitoring") ||
			!slices.Equal(cfg.AllowedImages, []string{"registry.example.com/sec/fieldseal:0.1.0-debug"}) || cfg.Keys.AWSRegion != "eu-west-1" {
			t.Errorf("injector config = %+v", cfg)
		}
		for _, ns := range []string{namespace, "shop", "orders"} {
			cm := configMapNamed(m, "shop-fieldmap", ns)
			if cm == nil {
				t.Errorf("field map not rendered in namespace %s", ns)
				continue
			}
			checkFieldMap(t, cm, "aws")
		}
		checkMinimalRBAC(t, m, 1)
		if !*d.Spec.Template.Spec.AutomountServiceAccountToken {
			t.Errorf("with rbac.extraRules the injector needs its token mounted")
		}
	})
	t.Run("the rotation ServiceAccount carries the IRSA role", func(t *testing.T) {
		ps := one(t, "CronJob", m.cronJobs).Spec.JobTemplate.Spec.Template.Spec
		var found bool
		for _, sa := range m.sas {
			if sa.Name == ps.ServiceAccountName {
				found = sa.Annotations["eks.amazonaws.com/role-arn"] == "arn:aws:iam::123456789012:role/fieldseal-rotation"
			}
		}
		if !found {
			t.Errorf("ServiceAccount %s lacks the eks.amazonaws.com/role-arn annotation", ps.ServiceAccountName)
		}
	})
}

func TestChartLocalProvider(t *testing.T) {
	m := decodeAll(t, helmTemplate(t, ".", "--set", "keys.provider=local"))
	t.Run("no rotation job or rotation account is rendered for the local provider", func(t *testing.T) {
		if len(m.cronJobs) != 0 || len(m.sas) != 1 {
			t.Errorf("%d CronJobs and %d ServiceAccounts, want 0 and 1", len(m.cronJobs), len(m.sas))
		}
		checkFieldMap(t, configMapNamed(m, "fieldseal-fieldmap", namespace), "local")
	})
}

func TestChartImagesAreSetSeparately(t *testing.T) {
	injectorDigest := "sha256:" + strings.Repeat("a", 64)
	sidecarDigest := "sha256:" + strings.Repeat("b", 64)
	m := decodeAll(t, helmTemplate(t, ".",
		"--set", "injector.image.repository=registry.example.com/injector",
		"--set", "injector.image.digest="+injectorDigest,
		"--set", "injector.image.pullPolicy=Never",
		"--set", "image.repository=registry.example.com/sidecar",
		"--set", "image.digest="+sidecarDigest))
	d := one(t, "Deployment", m.deployments)
	t.Run("each image takes its own repository, and a digest wins over the tag", func(t *testing.T) {
		checkInjectorConfig(t, m, d, images{
			injector: "registry.example.com/injector@" + injectorDigest,
			sidecar:  "registry.example.com/sidecar@" + sidecarDigest,
		})
	})
	t.Run("the injector's pull policy is its own", func(t *testing.T) {
		if c := injectorContainer(t, d); c.ImagePullPolicy != corev1.PullNever {
			t.Errorf("injector imagePullPolicy = %q, want Never", c.ImagePullPolicy)
		}
	})
	t.Run("a malformed injector digest is refused by the schema", func(t *testing.T) {
		helmMustFail(t, ".", "digest", "--set", "injector.image.digest=sha256:short")
	})
}

// compareGolden compares got with testdata/NAME.golden.yaml (see
// sidecartest.Golden; -update rewrites it).
func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	sidecartest.Golden(t, filepath.Join("testdata", name+".golden.yaml"), got, *update)
}

// helmMustFail renders chartDir and expects helm to fail with want in stderr.
func helmMustFail(t *testing.T, chartDir, want string, args ...string) {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, chartDir, "--kube-version", kubeVersion}, args...)...)
	var f *helmFailure
	if !errors.As(err, &f) || !strings.Contains(f.stderr, want) {
		t.Errorf("helm template: err=%v output:\n%s\nwant a failure containing %q", err, out, want)
	}
}

func writeConfig(t *testing.T, path string, cfg inject.Config) {
	t.Helper()
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
