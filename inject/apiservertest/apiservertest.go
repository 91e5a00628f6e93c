package apiservertest

import (
	"bytes"
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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// Server is a running kube-apiserver.
type Server struct {
	URL   string
	CAPEM []byte // CA of the API server, its clients and IssueServing
	pki   *pki
	api   apiClient
}

// Do sends a JSON request as a cluster admin; it returns the status code
// (0 on a transport error) and the body.
func (s *Server) Do(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	return s.api.do(t, method, path, body)
}

// IssueServing writes a serving certificate for 127.0.0.1 signed by CAPEM
// and returns the certificate and key file paths.
func (s *Server) IssueServing(t testing.TB, name string) (certFile, keyFile string) {
	t.Helper()
	return s.pki.issue(t, name, pkix.Name{CommonName: name}, x509.ExtKeyUsageServerAuth)
}

// Start runs etcd and kube-apiserver until the test ends and waits until the
// API server is ready.
func Start(t testing.TB) *Server {
	t.Helper()
	etcdBin := lookBinary(t, "ETCD", "etcd")
	apiBin := lookBinary(t, "KUBE_APISERVER", "kube-apiserver")
	dir := t.TempDir()
	p := newPKI(t, dir)

	etcdClient, etcdPeer := testproc.FreePort(t), testproc.FreePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	start(t, dir, "etcd", etcdBin, "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", etcdPeer))

	servingCrt, servingKey := p.issue(t, "apiserver", pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth)
	adminCrt, adminKey := p.issue(t, "admin", pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth)
	saKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	saDER, _ := x509.MarshalPKCS8PrivateKey(saKey)
	saPub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	saKeyFile := p.write(t, "sa.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: saDER}))
	saPubFile := p.write(t, "sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}))
	apiPort := testproc.FreePort(t)
	api := start(t, dir, "kube-apiserver", apiBin,
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
	pool.AppendCertsFromPEM(p.ca.PEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}
	t.Cleanup(tr.CloseIdleConnections)
	s := &Server{
		URL: fmt.Sprintf("https://127.0.0.1:%d", apiPort), CAPEM: p.ca.PEM, pki: p,
		api: apiClient{base: fmt.Sprintf("https://127.0.0.1:%d", apiPort), c: &http.Client{Transport: tr, Timeout: 20 * time.Second}},
	}
	api.WaitUntil(t, 90*time.Second, func() error {
		if code, body := s.Do(t, http.MethodGet, "/readyz", nil); code != http.StatusOK {
			return fmt.Errorf("kube-apiserver not ready: %d %s", code, body)
		}
		return nil
	})
	return s
}

func lookBinary(t testing.TB, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// .ci/tools.sh installs both into the repository's tool cache.
	if p := cachedTool(name); p != "" {
		return p
	}
	msg := fmt.Sprintf("%s not found (set %s, put it on PATH, or run `bash .ci/tools.sh etcd kube-apiserver`, "+
		"which puts Debian's etcd-server and a kube-apiserver built from .ci/kube-apiserver into .cache/bin)", name, env)
	if os.Getenv("FIELDSEAL_E2E") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// cachedTool returns name in the tool cache's bin directory ($FIELDSEAL_CACHE/bin,
// else .cache/bin at the root of the module this test runs in), or "" when absent.
func cachedTool(name string) string {
	cache := os.Getenv("FIELDSEAL_CACHE")
	if cache == "" {
		dir, err := os.Getwd()
		if err != nil {
			return ""
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return ""
			}
			dir = parent
		}
		cache = filepath.Join(dir, ".cache")
	}
	p := filepath.Join(cache, "bin", name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// pki is the API server's CA and the directory its files go to.
type pki struct {
	dir string
	ca  *CA
}

func newPKI(t testing.TB, dir string) *pki {
	t.Helper()
	p := &pki{dir: dir, ca: NewCA(t)}
	p.write(t, "ca.crt", p.ca.PEM)
	return p
}

func (p *pki) write(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue writes NAME.crt/NAME.key signed by the CA and returns their paths.
func (p *pki) issue(t testing.TB, name string, subject pkix.Name, usage x509.ExtKeyUsage) (string, string) {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	crt, key := filepath.Join(p.dir, name+".crt"), filepath.Join(p.dir, name+".key")
	p.ca.Issue(t, serial.Int64(), subject, usage, crt, key)
	return crt, key
}

// start runs a process until the test ends; its output goes to a log file
// whose tail is printed if the test fails.
func start(t testing.TB, dir, name, bin string, args ...string) *testproc.Process {
	t.Helper()
	return testproc.Start(t, testproc.Options{Log: filepath.Join(dir, name+".log"), LogTail: 4000}, bin, args...)
}

type apiClient struct {
	base string
	c    *http.Client
}

func (a apiClient) do(t testing.TB, method, path string, body any) (int, []byte) {
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
