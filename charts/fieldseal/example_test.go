package chart_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// The walk-through of docs/kubernetes.md: release, namespace and values.
const (
	docRelease    = "fieldseal"
	docNamespace  = "fieldseal-system"
	exampleValues = "../../examples/kubernetes/values-orders.yaml"
	exampleApp    = "../../examples/kubernetes/orders-api.yaml"
	exampleRegion = "eu-west-1"
)

// fieldsealBin is the fieldseal binary, built once for these tests: the
// rendered configs are checked, and the key-init hook's command run, by the
// program the image carries.
var fieldsealBin string

func TestMain(m *testing.M) {
	motoserver.IsolateAWSEnv(exampleRegion)
	dir, err := os.MkdirTemp("", "fieldseal-chart-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fieldsealBin = filepath.Join(dir, "fieldseal")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", fieldsealBin, "../../cmd/fieldseal").CombinedOutput()
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build ../../cmd/fieldseal: %v\n%s", err, out)
		os.Exit(1)
	}
	code := motoserver.RunShared(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// helmPlain runs helm with exactly the arguments a reader types: no
// --kube-version or other flag the documentation does not show.
func helmPlain(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestChartRendersWithNoExtraFlags(t *testing.T) {
	for _, args := range [][]string{
		{"template", docRelease, "."},
		{"template", docRelease, ".", "--namespace", docNamespace, "-f", exampleValues},
		{"lint", "--strict", ".", "-f", exampleValues},
	} {
		helmPlain(t, args...)
	}
}

// hookOf returns an object's Helm hook annotations: the events and the weight.
func hookOf(meta map[string]string) (events []string, weight string) {
	if h := meta["helm.sh/hook"]; h != "" {
		events = strings.Split(h, ",")
	}
	return events, meta["helm.sh/hook-weight"]
}

func TestChartExampleValues(t *testing.T) {
	m := decodeAll(t, helmPlain(t, "template", docRelease, ".", "--namespace", docNamespace, "-f", exampleValues))
	sidecarImage := "111122223333.dkr.ecr.eu-west-1.amazonaws.com/fieldseal:0.1.0"

	job := one(t, "Job", m.jobs)
	ps := job.Spec.Template.Spec
	var hookSA *corev1.ServiceAccount
	for _, sa := range m.sas {
		if sa.Name == ps.ServiceAccountName {
			hookSA = sa
		}
	}
	t.Run("a pre-install hook Job runs keys init --if-absent with its own hook config and account", func(t *testing.T) {
		events, jobWeight := hookOf(job.Annotations)
		if !slices.Contains(events, "pre-install") {
			t.Errorf("Job hook events %v lack pre-install", events)
		}
		c := one(t, "keys-init container", ps.Containers)
		if want := []string{"keys", "init", "--if-absent", "--config", "/etc/fieldseal/config.yaml"}; !slices.Equal(c.Args, want) {
			t.Errorf("args = %v, want %v", c.Args, want)
		}
		if c.Image != sidecarImage {
			t.Errorf("image = %q, want the sidecar image %q", c.Image, sidecarImage)
		}
		checkRestrictive(t, "keys-init", c.SecurityContext)
		if ps.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("restartPolicy = %s", ps.RestartPolicy)
		}
		// Hooks run before the release's objects exist: what the Job uses must
		// be a hook of a lower weight.
		if hookSA == nil {
			t.Fatalf("the Job's ServiceAccount %q is not rendered", ps.ServiceAccountName)
		}
		vol := one(t, "keys-init volume", ps.Volumes)
		cm := configMapNamed(m, vol.ConfigMap.Name, docNamespace)
		if cm == nil {
			t.Fatalf("the Job's ConfigMap %q is not rendered", vol.ConfigMap.Name)
		}
		for what, ann := range map[string]map[string]string{"ServiceAccount": hookSA.Annotations, "ConfigMap": cm.Annotations} {
			ev, w := hookOf(ann)
			if !slices.Equal(ev, events) || atoi(t, w) >= atoi(t, jobWeight) {
				t.Errorf("%s hook events %v weight %q; want the Job's events %v at a lower weight than %q", what, ev, w, events, jobWeight)
			}
		}
		if got := hookSA.Annotations["eks.amazonaws.com/role-arn"]; got != "arn:aws:iam::111122223333:role/fieldseal-rotator" {
			t.Errorf("keys-init ServiceAccount role = %q, want the rotator role", got)
		}
		res := testproc.Exec(t, testproc.Cmd{}, fieldsealBin, "config", "check", writeTemp(t, cm.Data["config.yaml"]))
		if res.Code != 0 {
			t.Errorf("the hook's config does not pass config check:\n%s", res.Stderr)
		}
	})
	t.Run("the orders field map is in the orders namespace and passes config check", func(t *testing.T) {
		cm := configMapNamed(m, "orders-fieldmap", "orders")
		if cm == nil {
			t.Fatal("ConfigMap orders/orders-fieldmap is not rendered")
		}
		checkFieldMap(t, cm, "aws")
		if strings.Contains(cm.Data["config.yaml"], "customers") {
			t.Errorf("the example's field map still holds the chart's customers sample")
		}
		res := testproc.Exec(t, testproc.Cmd{}, fieldsealBin, "config", "check", writeTemp(t, cm.Data["config.yaml"]))
		if res.Code != 0 || !strings.Contains(string(res.Stdout), "ok (4 classes, 3 routes, key provider aws)") {
			t.Errorf("config check: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
		}
	})
	t.Run("the IAM trust policies trust exactly the accounts the chart and the example app use", func(t *testing.T) {
		cj := one(t, "CronJob", m.cronJobs)
		rotator := trustedSubjects(t, "../../docs/iam/rotator-trust-irsa.json")
		want := []string{
			"system:serviceaccount:" + docNamespace + ":" + hookSA.Name,
			"system:serviceaccount:" + docNamespace + ":" + cj.Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName,
		}
		slices.Sort(want)
		if !slices.Equal(rotator, want) {
			t.Errorf("rotator-trust-irsa.json trusts %v, want %v", rotator, want)
		}
		app := readExampleApp(t)
		if app.deployment.Spec.Template.Annotations["fieldseal.io/inject"] != "true" ||
			app.deployment.Spec.Template.Annotations["fieldseal.io/config-map"] != "orders-fieldmap" {
			t.Errorf("example Deployment annotations %v do not ask for the orders field map", app.deployment.Spec.Template.Annotations)
		}
		if app.namespace.Labels["fieldseal.io/injection"] != "enabled" {
			t.Errorf("example namespace is not opted in: %v", app.namespace.Labels)
		}
		sa := app.deployment.Spec.Template.Spec.ServiceAccountName
		if got := trustedSubjects(t, "../../docs/iam/sidecar-trust-irsa.json"); !slices.Equal(got, []string{"system:serviceaccount:orders:" + sa}) {
			t.Errorf("sidecar-trust-irsa.json trusts %v, want the example app's account orders/%s", got, sa)
		}
		if app.serviceAccount.Name != sa || app.serviceAccount.Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::111122223333:role/fieldseal-sidecar" {
			t.Errorf("example ServiceAccount %s does not carry the sidecar role: %v", app.serviceAccount.Name, app.serviceAccount.Annotations)
		}
	})
}

// atoi reads a hook weight ("" is 0, as Helm reads it).
func atoi(t *testing.T, s string) int {
	t.Helper()
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("hook weight %q: %v", s, err)
	}
	return n
}

// lineWith returns the first line of s that starts with prefix, or "".
func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func writeTemp(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// trustedSubjects returns the sorted ServiceAccount subjects (":sub" values)
// an IRSA trust policy allows.
func trustedSubjects(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Action    string
			Condition map[string]map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var subs []string
	for _, s := range doc.Statement {
		if s.Action != "sts:AssumeRoleWithWebIdentity" {
			t.Errorf("%s: action %q, want sts:AssumeRoleWithWebIdentity", path, s.Action)
		}
		for k, v := range s.Condition["StringEquals"] {
			if !strings.HasSuffix(k, ":sub") {
				continue
			}
			var one string
			if json.Unmarshal(v, &one) == nil {
				subs = append(subs, one)
			} else if err := json.Unmarshal(v, &subs); err != nil {
				t.Fatalf("%s: %s: %v", path, k, err)
			}
		}
	}
	slices.Sort(subs)
	return subs
}

type exampleAppObjects struct {
	namespace      *corev1.Namespace
	serviceAccount *corev1.ServiceAccount
	deployment     *appsv1.Deployment
}

// readExampleApp decodes examples/kubernetes/orders-api.yaml strictly.
func readExampleApp(t *testing.T) exampleAppObjects {
	t.Helper()
	b, err := os.ReadFile(exampleApp)
	if err != nil {
		t.Fatal(err)
	}
	var app exampleAppObjects
	for _, doc := range splitDocs(t, b) {
		var kind struct{ Kind string }
		if err := yaml.Unmarshal(doc, &kind); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch kind.Kind {
		case "Namespace":
			app.namespace = new(corev1.Namespace)
			obj = app.namespace
		case "ServiceAccount":
			app.serviceAccount = new(corev1.ServiceAccount)
			obj = app.serviceAccount
		case "Deployment":
			app.deployment = new(appsv1.Deployment)
			obj = app.deployment
		case "Service":
			obj = new(corev1.Service)
		default:
			t.Fatalf("%s: unexpected kind %q", exampleApp, kind.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: %s: %v", exampleApp, kind.Kind, err)
		}
	}
	if app.namespace == nil || app.serviceAccount == nil || app.deployment == nil {
		t.Fatalf("%s lacks the Namespace, ServiceAccount or Deployment", exampleApp)
	}
	return app
}

// TestKeysInitHookCreatesTheRingOnce runs the hook Job's command, with the
// config the chart renders for it, against the AWS emulator: the first run
// creates the ring, every later run (a reinstall, an upgrade) leaves it as
// it is and succeeds.
func TestKeysInitHookCreatesTheRingOnce(t *testing.T) {
	url := motoserver.Shared(t)
	ctx := context.Background()
	key, err := motoserver.KMS(url, exampleRegion, nil).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("fieldseal chart hook test")})
	if err != nil {
		t.Fatal(err)
	}
	secret := fmt.Sprintf("fieldseal-chart-test/keyring-%d", time.Now().UnixNano())
	m := decodeAll(t, helmPlain(t, "template", docRelease, ".", "--namespace", docNamespace, "-f", exampleValues,
		"--set", "keys.aws.endpoint="+url, "--set", "keys.aws.kmsKeyId="+*key.KeyMetadata.KeyId, "--set", "keys.aws.secretId="+secret))
	job := one(t, "Job", m.jobs)
	c := one(t, "keys-init container", job.Spec.Template.Spec.Containers)
	cm := configMapNamed(m, one(t, "keys-init volume", job.Spec.Template.Spec.Volumes).ConfigMap.Name, docNamespace)
	cfg := writeTemp(t, cm.Data["config.yaml"])
	args := slices.Clone(c.Args)
	args[slices.Index(args, "/etc/fieldseal/config.yaml")] = cfg

	first := testproc.Exec(t, testproc.Cmd{}, fieldsealBin, args...)
	if first.Code != 0 || !slices.Equal(strings.Fields(lineWith(string(first.Stdout), "primary:")), []string{"primary:", "v1"}) {
		t.Fatalf("first run: exit %d, stdout %q, stderr %q", first.Code, first.Stdout, first.Stderr)
	}
	sm := motoserver.SecretsManager(url, exampleRegion, nil)
	before, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret)})
	if err != nil {
		t.Fatalf("the ring's secret was not created: %v", err)
	}
	again := testproc.Exec(t, testproc.Cmd{}, fieldsealBin, args...)
	if again.Code != 0 || !strings.Contains(string(again.Stdout), "left unchanged") {
		t.Fatalf("second run: exit %d, stdout %q, stderr %q", again.Code, again.Stdout, again.Stderr)
	}
	after, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret)})
	if err != nil || *after.VersionId != *before.VersionId || *after.SecretString != *before.SecretString {
		t.Errorf("the second run changed the ring (err %v)", err)
	}
}
