package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/inject"
	"github.com/fieldseal/fieldseal/inject/apiservertest"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// injectorConfig is the chart-shaped config the inject package tests use.
var injectorConfig = filepath.Join("..", "..", "inject", "testdata", "injector.yaml")

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommandLine(t *testing.T) {
	t.Run("--help prints the usage and every flag on stdout and exits 0", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, "--help")
		if code != 0 || stderr != "" {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		for _, want := range []string{"Usage: fieldseal-injector", "fieldseal.io/inject", "-addr", "-tls-cert", "-tls-key", "-config", "-log-level", "-version"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("--help output lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("--version prints the stamped version on stdout", func(t *testing.T) {
		if code, stdout, _ := runCmd(t, "--version"); code != 0 || stdout != "fieldseal-injector dev\n" {
			t.Errorf("exit %d, stdout %q", code, stdout)
		}
	})
	t.Run("missing required flags exit 2 with the usage on stderr", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, "--tls-cert", "tls.crt")
		if code != 2 || stdout != "" || !strings.Contains(stderr, "are required") || !strings.Contains(stderr, "Usage: fieldseal-injector") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("an unknown flag exits 2", func(t *testing.T) {
		if code, _, stderr := runCmd(t, "--listen", ":8443"); code != 2 || !strings.Contains(stderr, "-listen") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("the old inject subcommand is refused as an unexpected argument", func(t *testing.T) {
		if code, _, stderr := runCmd(t, "inject", "--config", injectorConfig); code != 2 || !strings.Contains(stderr, `unexpected argument "inject"`) {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("an unknown log level exits 1 naming it", func(t *testing.T) {
		code, _, stderr := runCmd(t, "--tls-cert", "c", "--tls-key", "k", "--config", injectorConfig, "--log-level", "loud")
		if code != 1 || !strings.Contains(stderr, `log level "loud"`) {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("a config that does not exist exits 1", func(t *testing.T) {
		code, _, stderr := runCmd(t, "--tls-cert", "c", "--tls-key", "k", "--config", filepath.Join(t.TempDir(), "absent.yaml"))
		if code != 1 || !strings.Contains(stderr, "absent.yaml") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("unreadable certificate files exit 1 before serving", func(t *testing.T) {
		dir := t.TempDir()
		code, _, stderr := runCmd(t, "--tls-cert", filepath.Join(dir, "tls.crt"), "--tls-key", filepath.Join(dir, "tls.key"),
			"--config", injectorConfig, "--addr", testproc.FreeAddr(t))
		if code != 1 || !strings.Contains(stderr, "tls.crt") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

// TestServesWebhookFromFlags runs the command as the chart's Deployment does
// and checks that its flags reach the webhook: TLS from the given files, the
// sidecar from the given config, metrics, and a clean exit on shutdown.
func TestServesWebhookFromFlags(t *testing.T) {
	certFile, keyFile := apiservertest.PairFiles(t)
	ca := apiservertest.NewCA(t)
	ca.IssueServing(t, certFile, keyFile)
	pool := ca.Pool
	addr := testproc.FreeAddr(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"--addr", addr, "--tls-cert", certFile, "--tls-key", keyFile,
			"--config", injectorConfig, "--log-level", "debug"}, io.Discard, &logs)
	}()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	base := "https://" + addr
	testproc.Poll(t, 30*time.Second, func() error {
		select {
		case code := <-exit:
			t.Fatalf("injector exited with %d during start-up:\n%s", code, logs.String())
		default:
		}
		return sidecartest.GetOK(client, base+"/healthz")
	})

	t.Run("an annotated pod gets the sidecar image named in --config", func(t *testing.T) {
		review, err := os.ReadFile(filepath.Join("..", "..", "inject", "testdata", "reviews", "inject-defaults.json"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Post(base+"/mutate", "application/json", bytes.NewReader(review))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Response struct {
				UID     string `json:"uid"`
				Allowed bool   `json:"allowed"`
				Patch   []byte `json:"patch"`
			} `json:"response"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("decode AdmissionReview: %v", err)
		}
		if out.Response.UID != "11111111-0000-4000-8000-000000000001" || !out.Response.Allowed {
			t.Fatalf("response = %+v", out.Response)
		}
		var patch []struct {
			Op    string          `json:"op"`
			Path  string          `json:"path"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(out.Response.Patch, &patch); err != nil {
			t.Fatalf("decode JSON patch: %v", err)
		}
		var added bool
		for _, op := range patch {
			var c struct{ Name, Image string }
			if strings.HasPrefix(op.Path, "/spec/containers") && json.Unmarshal(op.Value, &c) == nil &&
				c.Name == inject.ContainerName && c.Image == "ghcr.io/fieldseal/fieldseal:0.1.0" {
				added = true
			}
		}
		if !added {
			t.Errorf("patch adds no %s container with the configured image: %s", inject.ContainerName, out.Response.Patch)
		}
	})
	t.Run("metrics serve the webhook's counters and the process collectors", func(t *testing.T) {
		resp, err := client.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, want := range []string{"fieldseal_inject_reviews_total", "fieldseal_inject_certificate_expiry_timestamp_seconds", "go_goroutines", "process_"} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	t.Run("a cancelled context drains and exits 0", func(t *testing.T) {
		cancel()
		select {
		case code := <-exit:
			if code != 0 {
				t.Errorf("exit %d:\n%s", code, logs.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("injector still running 30s after shutdown was asked")
		}
	})
}
