package admin

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// keyHolder is the smallest KeySource: a ring that tests can set.
type keyHolder struct {
	p atomic.Pointer[crypto.Keyring]
}

func (k *keyHolder) Keyring() *crypto.Keyring { return k.p.Load() }

type fixedStatus keycache.Status

func (s fixedStatus) Status() keycache.Status { return keycache.Status(s) }

// serve runs the admin handler for opts on a loopback port until the test
// ends and returns a GET of a path on it: the status and the body.
func serve(t *testing.T, opts Options) (get func(path string) (int, string)) {
	t.Helper()
	srv := httptest.NewServer(New(opts))
	t.Cleanup(srv.Close)
	return func(path string) (int, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

func TestAdminEndpoints(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	keys := &keyHolder{}
	reg := prometheus.NewRegistry()
	status := fixedStatus{Revision: "rev-9", Primary: 2, LastSuccess: now.Add(-90 * time.Second), LastAttempt: now.Add(-time.Second), LastError: "kms: throttled", ConsecutiveFailures: 3}
	get := serve(t, Options{Keys: keys, Status: status, Gatherer: reg, Now: func() time.Time { return now }})
	// What the process registers is what /metrics serves.
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldseal_proxy_requests_total", Help: "h"}, []string{"route", "outcome"})
	reg.MustRegister(requests)
	requests.WithLabelValues("unmatched", "forwarded").Inc()

	if code, body := get("/healthz"); code != 200 {
		t.Errorf("healthz %d %s", code, body)
	}
	t.Run("readyz is 503 before keys are loaded", func(t *testing.T) {
		code, body := get("/readyz")
		if code != 503 || gjson.Get(body, "ready").Bool() || gjson.Get(body, "keys.last_error").Str != "kms: throttled" {
			t.Errorf("readyz %d %s", code, body)
		}
	})
	t.Run("readyz is 200 with key detail once keys are loaded", func(t *testing.T) {
		keys.p.Store(sidecartest.Ring(t, 2))
		code, body := get("/readyz")
		if code != 200 || !gjson.Get(body, "ready").Bool() {
			t.Fatalf("readyz %d %s", code, body)
		}
		for path, want := range map[string]string{"keys.revision": "rev-9", "keys.primary": "2", "keys.ring_age_seconds": "90", "keys.consecutive_failures": "3"} {
			if got := gjson.Get(body, path).String(); got != want {
				t.Errorf("%s = %q, want %q in %s", path, got, want, body)
			}
		}
	})
	t.Run("readyz is 503 and says so while the ring is stale", func(t *testing.T) {
		stale := fixedStatus{Stale: true, Revision: "rev-9", LastSuccess: now.Add(-time.Hour), LastError: "key ring not refreshed since ..., over its max_stale bound of 30m0s"}
		code, body := serve(t, Options{Keys: &keyHolder{}, Status: stale, Now: func() time.Time { return now }})("/readyz")
		if code != 503 || !gjson.Get(body, "keys.stale").Bool() || !strings.Contains(gjson.Get(body, "keys.last_error").Str, "max_stale") {
			t.Errorf("readyz %d %s", code, body)
		}
	})
	t.Run("metrics are served in the Prometheus format", func(t *testing.T) {
		code, body := get("/metrics")
		if code != 200 || !strings.Contains(body, `fieldseal_proxy_requests_total{outcome="forwarded",route="unmatched"} 1`) {
			t.Errorf("metrics %d %s", code, body)
		}
	})
}

func TestAdminPprofIsOptIn(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("pprof=%v", on), func(t *testing.T) {
			code, body := serve(t, Options{Keys: &keyHolder{}, Pprof: on})("/debug/pprof/heap?debug=1")
			served := code == http.StatusOK && strings.Contains(body, "heap profile")
			if served != on {
				t.Errorf("Pprof %v: GET /debug/pprof/heap = %d %.80q", on, code, body)
			}
		})
	}
}
