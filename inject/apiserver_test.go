package inject_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/inject"
	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// This file runs the injector behind a real kube-apiserver (with a real etcd):
// the API server calls the webhook over TLS, applies its JSON patch and stores
// the injected pod. Binaries: etcd (Debian package etcd-server) and
// kube-apiserver (built from the Go module proxy, see the skip message). The
// test skips when either is missing; set FIELDSEAL_E2E=1 to make that a failure.

func lookBinary(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// .ci/helm.sh (FIELDSEAL_E2E=1) builds kube-apiserver into GOPATH/bin.
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found (set %s or put it on PATH). etcd: apt-get install etcd-server; "+
		"kube-apiserver: build k8s.io/kubernetes/cmd/kube-apiserver@v1.37.2 from the module proxy with replace directives "+
		"for its staging modules at v0.37.2 (FIELDSEAL_E2E=1 .ci/helm.sh does both)", name, env)
	if os.Getenv("FIELDSEAL_E2E") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
}

func newPKI(t *testing.T, dir string) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pki{dir: dir, caCert: cert, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	p.write(t, "ca.crt", p.caPEM)
	return p
}

func (p *pki) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue writes NAME.crt/NAME.key signed by the CA and returns their paths.
func (p *pki) issue(t *testing.T, name string, subject pkix.Name, usage x509.ExtKeyUsage) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return p.write(t, name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		p.write(t, name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

// start runs a process until the test ends; its output goes to a log file
// that is printed if the test fails.
func start(t *testing.T, dir, name, bin string, args ...string) <-chan struct{} {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			if len(out) > 4000 {
				out = out[len(out)-4000:]
			}
			t.Logf("%s log (tail):\n%s", name, out)
		}
	})
	return exited
}

type apiClient struct {
	base string
	c    *http.Client
}

func (a apiClient) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestInjectorBehindRealAPIServer(t *testing.T) {
	etcdBin := lookBinary(t, "ETCD", "etcd")
	apiBin := lookBinary(t, "KUBE_APISERVER", "kube-apiserver")
	dir := t.TempDir()
	p := newPKI(t, dir)

	// etcd
	etcdClient, etcdPeer := freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	start(t, dir, "etcd", etcdBin, "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", etcdPeer))

	// kube-apiserver: client-certificate auth for a system:masters admin.
	servingCrt, servingKey := p.issue(t, "apiserver", pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth)
	adminCrt, adminKey := p.issue(t, "admin", pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth)
	saKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	saDER, _ := x509.MarshalPKCS8PrivateKey(saKey)
	saPub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	saKeyFile := p.write(t, "sa.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: saDER}))
	saPubFile := p.write(t, "sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}))
	apiPort := freePort(t)
	apiExited := start(t, dir, "kube-apiserver", apiBin,
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", fmt.Sprint(apiPort),
		"--tls-cert-file", servingCrt, "--tls-private-key-file", servingKey,
		"--client-ca-file", filepath.Join(dir, "ca.crt"),
		"--service-account-key-file", saPubFile, "--service-account-signing-key-file", saKeyFile,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", "10.96.0.0/24",
		// A loopback advertise address cannot back the kubernetes Service.
		"--endpoint-reconciler-type", "none",
		"--authorization-mode", "RBAC",
		// No controller-manager runs, so no default ServiceAccounts exist.
		"--disable-admission-plugins", "ServiceAccount",
		"--cert-dir", filepath.Join(dir, "apiserver-certs"))

	pair, err := tls.LoadX509KeyPair(adminCrt, adminKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}
	defer tr.CloseIdleConnections()
	api := apiClient{base: fmt.Sprintf("https://127.0.0.1:%d", apiPort), c: &http.Client{Transport: tr, Timeout: 20 * time.Second}}

	deadline := time.Now().Add(90 * time.Second)
	for {
		code, body := api.do(t, http.MethodGet, "/readyz", nil)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready within 90s: %d %s", code, body)
		}
		select {
		case <-apiExited:
			t.Fatal("kube-apiserver exited before it was ready")
		default:
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The injector, serving a certificate from the same CA.
	injCrt, injKey := p.issue(t, "injector", pkix.Name{CommonName: "fieldseal-injector"}, x509.ExtKeyUsageServerAuth)
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
			"clientConfig":      map[string]any{"url": "https://" + ln.Addr().String() + "/mutate", "caBundle": p.caPEM},
			"rules":             []any{map[string]any{"operations": []string{"CREATE"}, "apiGroups": []string{""}, "apiVersions": []string{"v1"}, "resources": []string{"pods"}, "scope": "Namespaced"}},
			"namespaceSelector": map[string]any{"matchLabels": map[string]string{"fieldseal.io/injection": "enabled"}},
		}},
	}
	if code, body := api.do(t, http.MethodPost, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", webhook); code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", code, body)
	}
	for _, ns := range []struct {
		name   string
		labels map[string]string
	}{{"shop", map[string]string{"fieldseal.io/injection": "enabled"}}, {"plain", nil}} {
		body := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns.name, "labels": ns.labels}}
		if code, out := api.do(t, http.MethodPost, "/api/v1/namespaces", body); code != http.StatusCreated {
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
		return api.do(t, http.MethodPost, path, p)
	}

	// The API server picks up a new webhook configuration asynchronously:
	// wait (bounded) until a dry-run creation comes back injected.
	deadline = time.Now().Add(60 * time.Second)
	for {
		code, body := create("shop", pod("probe", map[string]string{inject.AnnotationInject: "true"}), true)
		if code == http.StatusCreated && bytes.Contains(body, []byte(`"name":"fieldseal"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook not effective within 60s: %d %s", code, body)
		}
		time.Sleep(500 * time.Millisecond)
	}

	t.Run("an annotated pod is stored with the sidecar and read back injected", func(t *testing.T) {
		if code, body := create("shop", pod("shop-api", map[string]string{inject.AnnotationInject: "true"}), false); code != http.StatusCreated {
			t.Fatalf("create pod: %d %s", code, body)
		}
		code, body := api.do(t, http.MethodGet, "/api/v1/namespaces/shop/pods/shop-api", nil)
		if code != http.StatusOK {
			t.Fatalf("get pod: %d %s", code, body)
		}
		var got corev1.Pod
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
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
