package keyse2e_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestMaxStaleRefusesARingThatCannotBeRefreshed serves with keys.max_stale,
// breaks the ring file so that refreshes fail, and checks that past the bound
// the sidecar refuses protected routes (the upstream receives nothing) and
// reports not ready, then serves again once a refresh succeeds.
func TestMaxStaleRefusesARingThatCannotBeRefreshed(t *testing.T) {
	cfg, ring, _ := localSetup(t)
	var received atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer up.Close()
	listen, admin := testproc.FreeAddr(t), testproc.FreeAddr(t)
	b, _ := os.ReadFile(cfg)
	text := strings.Replace(string(b), "upstream: http://127.0.0.1:1\n",
		fmt.Sprintf("upstream: %s\nlisten: %s\nadmin_listen: %s\n", up.URL, listen, admin), 1)
	text = strings.Replace(text, "  provider: local\n", "  provider: local\n  refresh_interval: 200ms\n  max_stale: 2s\n", 1)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testproc.Start(t, testproc.Options{Grace: 5 * time.Second}, fieldsealBin, "serve", "--config", cfg)
	p.WaitHTTP(t, "http://"+admin+"/readyz", 20*time.Second, func(status int) bool { return status == http.StatusOK })
	post := func() int {
		resp, err := http.Post("http://"+listen+"/c", "application/json", strings.NewReader(`{"email":"a@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusCreated || received.Load() != 1 {
		t.Fatalf("before: status %d, upstream saw %d", code, received.Load())
	}

	saved, _ := os.ReadFile(ring)
	if err := os.WriteFile(ring, []byte("not a ring"), 0o600); err != nil {
		t.Fatal(err)
	}
	var body string
	p.WaitUntil(t, 30*time.Second, func() error {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if resp.StatusCode != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	t.Run("past the bound /readyz says why", func(t *testing.T) {
		if !strings.Contains(body, "max_stale bound of 2s") || !strings.Contains(body, `"stale":true`) {
			t.Fatalf("readyz: %s", body)
		}
	})
	t.Run("past the bound the metrics say the ring is withheld", func(t *testing.T) {
		resp, err := http.Get("http://" + admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"\nfieldseal_keys_stale 1\n", "\nfieldseal_keys_max_stale_seconds 2\n"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
			}
		}
	})
	t.Run("past the bound protected routes are refused and nothing is forwarded", func(t *testing.T) {
		if code := post(); code != http.StatusServiceUnavailable || received.Load() != 1 {
			t.Fatalf("status %d, upstream saw %d requests", code, received.Load())
		}
	})
	t.Run("the sidecar logged the warning and the refusal", func(t *testing.T) {
		out := string(p.Output())
		if !strings.Contains(out, "keys_stale_warning") || !strings.Contains(out, "keys_stale_refused") {
			t.Fatalf("log:\n%s", out)
		}
	})
	t.Run("once a refresh succeeds the ring is served again", func(t *testing.T) {
		if err := os.WriteFile(ring, saved, 0o600); err != nil {
			t.Fatal(err)
		}
		p.WaitHTTP(t, "http://"+admin+"/readyz", 30*time.Second, func(status int) bool { return status == http.StatusOK })
		if code := post(); code != http.StatusCreated || received.Load() != 2 {
			t.Fatalf("after recovery: status %d, upstream saw %d", code, received.Load())
		}
	})
}
