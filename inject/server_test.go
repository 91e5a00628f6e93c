package inject

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/fieldseal/fieldseal/inject/apiservertest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

func TestRunServesTLSAndReloadsCertificate(t *testing.T) {
	certFile, keyFile := apiservertest.PairFiles(t)
	ca := apiservertest.NewCA(t)
	ca.IssueServing(t, certFile, keyFile)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	testproc.Go(t, func(ctx context.Context) error {
		return Run(ctx, ServerOptions{
			Listener: ln, CertFile: certFile, KeyFile: keyFile, Config: testConfig(t),
			ReloadInterval: time.Hour, Logger: zerolog.Nop(), Registerer: reg, Gatherer: reg,
		})
	})

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	base := "https://" + ln.Addr().String()

	servedSerial := func(t *testing.T) int64 {
		t.Helper()
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
			t.Fatalf("/healthz = %d %q", resp.StatusCode, body)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}

	t.Run("healthz answers over TLS with the certificate from the files", func(t *testing.T) {
		if got := servedSerial(t); got != 2 {
			t.Errorf("serial %d, want 2", got)
		}
	})
	t.Run("mutate answers an AdmissionReview", func(t *testing.T) {
		raw, review := readReview(t, "inject-defaults")
		resp, err := client.Post(base+"/mutate", "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out admissionv1.AdmissionReview
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if out.Response == nil || out.Response.UID != review.Request.UID || len(out.Response.Patch) == 0 {
			t.Errorf("response = %+v", out.Response)
		}
	})
	// Reloads are TestCertReloaderSwapsChangedFiles's, on a synthetic clock.
}

// TestCertReloaderSwapsChangedFiles runs the reload loop Run starts, in a
// testing/synctest bubble: its ticker fires when the test advances the
// bubble's clock, so nothing sleeps on the wall clock or depends on timing.
func TestCertReloaderSwapsChangedFiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const every = time.Minute
		certFile, keyFile := apiservertest.PairFiles(t)
		ca := apiservertest.NewCA(t)
		issue := ca.Renewer(t, "fieldseal-injector", certFile, keyFile)
		issue(2)
		m := newMetrics(prometheus.NewRegistry())
		c, err := loadWebhookCert(certFile, keyFile, zerolog.Nop(), m)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.run(ctx, every)
		}()
		served := func() *x509.Certificate {
			crt, err := c.GetCertificate(nil)
			if err != nil || crt == nil || crt.Leaf == nil {
				t.Fatalf("get = %v, %v", crt, err)
			}
			return crt.Leaf
		}
		reloads := func(result string) float64 { return testutil.ToFloat64(m.certReloads.WithLabelValues(result)) }

		// Unchanged files: a tick reloads nothing.
		time.Sleep(every)
		synctest.Wait()
		if got := served().SerialNumber.Int64(); got != 2 || reloads("ok") != 0 {
			t.Fatalf("after a tick with unchanged files: serial %d, %v reloads, want 2 and 0", got, reloads("ok"))
		}

		// A renewed pair is picked up at the next tick, not before.
		issue(3)
		time.Sleep(every - time.Nanosecond)
		synctest.Wait()
		if got := served().SerialNumber.Int64(); got != 2 {
			t.Fatalf("renewed certificate served before the tick: serial %d", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		leaf := served()
		if leaf.SerialNumber.Int64() != 3 || reloads("ok") != 1 {
			t.Fatalf("after the tick: serial %d, %v reloads, want 3 and 1", leaf.SerialNumber.Int64(), reloads("ok"))
		}
		if got := testutil.ToFloat64(m.certNotAfter); got != float64(leaf.NotAfter.Unix()) {
			t.Errorf("expiry gauge %v, want the renewed NotAfter %d", got, leaf.NotAfter.Unix())
		}

		// A broken file keeps the last good pair and counts an error.
		if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(every)
		synctest.Wait()
		if got := served().SerialNumber.Int64(); got != 3 || reloads("error") != 1 {
			t.Errorf("after a broken file: serial %d, %v errors, want the last good 3 and 1", got, reloads("error"))
		}

		cancel()
		<-done
	})
}

func TestRunRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts ServerOptions
	}{
		{"missing certificate files", ServerOptions{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, "none.crt"), KeyFile: filepath.Join(dir, "none.key"), Config: testConfig(t)}},
		{"a config without an image", ServerOptions{Addr: "127.0.0.1:0", Config: Config{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is an error at start", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := Run(ctx, tt.opts); err == nil {
				t.Error("Run returned nil")
			}
		})
	}
}
