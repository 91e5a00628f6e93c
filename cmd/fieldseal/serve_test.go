package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/inject/apiservertest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

func TestServeOverTLSOffersHTTP2(t *testing.T) {
	dir := t.TempDir()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"email":"kept@example.com"}`, r.URL.Path)
	}))
	defer upstream.Close()
	listen, admin := testproc.FreeAddr(t), testproc.FreeAddr(t)
	ca, cfgFile := tlsLocalSidecar(t, dir, fmt.Sprintf(`listen: %s
admin_listen: %s
upstream: %s
tls: {cert_file: tls.crt, key_file: tls.key}
log: {level: error}
`, listen, admin, upstream.URL))
	pool := ca.Pool

	testproc.Go(t, func(ctx context.Context) error { return serve(ctx, overrides{configFile: cfgFile}, io.Discard) })

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	defer client.CloseIdleConnections()
	var resp *http.Response
	testproc.Poll(t, 20*time.Second, func() (err error) {
		resp, err = client.Get("https://" + listen + "/status")
		return err
	})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Run("a pass-through request over TLS is served with HTTP/2", func(t *testing.T) {
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"/status"`) {
			t.Errorf("%s %d: %s", resp.Proto, resp.StatusCode, body)
		}
	})
	t.Run("plain HTTP on the TLS listener is not served", func(t *testing.T) {
		plain := &http.Client{Timeout: 5 * time.Second}
		resp, err := plain.Get("http://" + listen + "/status")
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("plain HTTP got 200 from the TLS listener")
			}
		}
	})
}

// tlsLocalSidecar prepares dir for a sidecar with the local key provider
// and TLS: a CA and a serving certificate for 127.0.0.1 in tls.crt and
// tls.key, a master key file private to its owner, and fieldseal.yaml (its
// path is returned) made of head (listeners, upstream, tls, log) followed
// by the keys and a field map with one route, whose ring is initialised.
func tlsLocalSidecar(t *testing.T, dir, head string) (*apiservertest.CA, string) {
	t.Helper()
	ca := apiservertest.NewCA(t)
	ca.IssueServing(t, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	code, mk, stderr := runCmd(t, "", "keys", "master-key")
	if code != 0 {
		t.Fatal(stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte(mk), 0o400); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "fieldseal.yaml")
	cfg := head + `keys:
  provider: local
  local: {ring_file: ring.json, master_key_file: master.key}
classes:
  email: {}
routes:
  - name: people
    methods: [POST]
    paths: [/people]
    request: [{path: email, class: email}]
`
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCmd(t, "", "keys", "init", "--config", cfgFile); code != 0 {
		t.Fatalf("keys init: %s", stderr)
	}
	return ca, cfgFile
}

func TestTuneRuntime(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("AUTOMEMLIMIT", "off") // the test must not set this process's limit
	for _, tt := range []struct {
		name, env string
		before    int
		want      int
	}{
		{"without GOGC serve raises it", "", 100, defaultGCPercent},
		{"GOGC from the environment wins", "150", 150, 150},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOGC", tt.env)
			debug.SetGCPercent(tt.before) // what the runtime read from GOGC at start
			var log bytes.Buffer
			tuneRuntime(zerolog.New(&log))
			if got := currentGCPercent(); got != tt.want {
				t.Errorf("GOGC %d, want %d", got, tt.want)
			}
			if !strings.Contains(log.String(), fmt.Sprintf(`"gogc":%d`, tt.want)) {
				t.Errorf("log %s does not report gogc %d", log.String(), tt.want)
			}
		})
	}
}
