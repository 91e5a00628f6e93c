package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// The injector turns TLS on per pod with serve's --tls-* and --admin-tls-*
// flags (certificate files from a Secret volume) over a config shared by
// every pod: the built binary must then answer its probes only over TLS,
// with the certificate it was given, and still proxy to the app.
func TestServeAdminAndProxyOverTLSFromFlags(t *testing.T) {
	dir := t.TempDir()
	var got atomic.Value
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer upstream.Close()
	listen, admin := testproc.FreeAddr(t), testproc.FreeAddr(t)
	// The shared config names placeholder listeners; the flags below win.
	ca, cfgFile := tlsLocalSidecar(t, dir, `listen: 127.0.0.1:1
admin_listen: 127.0.0.1:2
upstream: http://127.0.0.1:3
`)
	p := testproc.Start(t, testproc.Options{Dir: dir, Grace: 10 * time.Second}, fieldsealBin, "serve", "--config", cfgFile,
		"--listen", listen, "--upstream", upstream.URL, "--admin-listen", admin,
		"--tls-cert-file", filepath.Join(dir, "tls.crt"), "--tls-key-file", filepath.Join(dir, "tls.key"),
		"--admin-tls-cert-file", filepath.Join(dir, "tls.crt"), "--admin-tls-key-file", filepath.Join(dir, "tls.key"))

	trusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	defer trusting.CloseIdleConnections()
	get := func(c *http.Client, url string) (int, string, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	p.WaitUntil(t, 30*time.Second, func() error {
		code, body, err := get(trusting, "https://"+admin+"/readyz")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("readyz %d: %s", code, body)
		}
		return err
	})

	t.Run("the probes answer over https with the given certificate", func(t *testing.T) {
		code, body, err := get(trusting, "https://"+admin+"/healthz")
		if err != nil || code != http.StatusOK || !strings.Contains(body, `"ok"`) {
			t.Errorf("GET https /healthz: %d %q %v", code, body, err)
		}
	})
	t.Run("plain http on the admin port gets no probe answer", func(t *testing.T) {
		plain := &http.Client{Timeout: 5 * time.Second}
		code, body, err := get(plain, "http://"+admin+"/healthz")
		if err == nil && code == http.StatusOK {
			t.Errorf("plain GET /healthz answered 200 %q", body)
		}
	})
	t.Run("a client that does not trust the CA is refused", func(t *testing.T) {
		untrusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
		if _, _, err := get(untrusting, "https://"+admin+"/healthz"); err == nil {
			t.Errorf("GET https /healthz without the CA succeeded")
		}
	})
	t.Run("the certificates' expiry is exported for alerting", func(t *testing.T) {
		_, body, err := get(trusting, "https://"+admin+"/metrics")
		fams := sidecartest.ParseText(t, []byte(body))
		for _, l := range []string{"proxy", "admin"} {
			if v := fams.Sum("fieldseal_tls_certificate_expiry_timestamp_seconds", map[string]string{"listener": l}); err != nil || v < float64(time.Now().Unix()) {
				t.Errorf("expiry of the %s certificate = %v (%v), want a time in the future", l, v, err)
			}
		}
	})
	t.Run("the proxy listener serves TLS and forwards to the app", func(t *testing.T) {
		code, body, err := get(trusting, "https://"+listen+"/status")
		if err != nil || code != http.StatusOK || got.Load() != "GET /status" {
			t.Errorf("GET https /status: %d %q %v; upstream saw %v", code, body, err, got.Load())
		}
	})
}

func TestServeTLSFlagsGoTogether(t *testing.T) {
	for _, args := range [][]string{
		{"--tls-cert-file", "c.pem"},
		{"--admin-tls-key-file", "k.pem"},
	} {
		res := fieldseal(t, "", append([]string{"serve", "--config", "../../config/testdata/quickstart.yaml"}, args...)...)
		if res.Code == 0 || !strings.Contains(string(res.Stderr), "go together") {
			t.Errorf("serve %s: exit %d, stderr %q; want a refusal naming the pair", strings.Join(args, " "), res.Code, res.Stderr)
		}
	}
}
