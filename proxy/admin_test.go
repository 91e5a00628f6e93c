package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto/keycache"
)

type fixedStatus keycache.Status

func (s fixedStatus) Status() keycache.Status { return keycache.Status(s) }

func TestAdminEndpoints(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	keys := &keyHolder{}
	reg := prometheus.NewRegistry()
	status := fixedStatus{Revision: "rev-9", Primary: 2, LastSuccess: now.Add(-90 * time.Second), LastAttempt: now.Add(-time.Second), LastError: "kms: throttled", ConsecutiveFailures: 3}
	admin := httptest.NewServer(NewAdmin(AdminOptions{Keys: keys, Status: status, Gatherer: reg, Now: func() time.Time { return now }}))
	defer admin.Close()
	// The proxy's metrics go into the registry /metrics serves.
	h := newHarness(t, nil, func(o *Options) { o.Registerer = reg })
	h.do(t, http.MethodGet, "/elsewhere", nil, nil)
	get := func(path string) (int, string) {
		resp, err := admin.Client().Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

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
		keys.p.Store(testRing(t))
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
	t.Run("metrics are served in the Prometheus format", func(t *testing.T) {
		code, body := get("/metrics")
		if code != 200 || !strings.Contains(body, `fieldseal_proxy_requests_total{outcome="forwarded",route="unmatched"} 1`) {
			t.Errorf("metrics %d %s", code, body)
		}
	})
}

// counter returns the value of a counter with the given labels, or -1.
func TestAdminPprofIsOptIn(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("pprof=%v", on), func(t *testing.T) {
			admin := httptest.NewServer(NewAdmin(AdminOptions{Keys: &keyHolder{}, Pprof: on}))
			defer admin.Close()
			resp, err := admin.Client().Get(admin.URL + "/debug/pprof/heap?debug=1")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			served := resp.StatusCode == http.StatusOK && strings.Contains(string(b), "heap profile")
			if served != on {
				t.Errorf("Pprof %v: GET /debug/pprof/heap = %d %.80q", on, resp.StatusCode, b)
			}
		})
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return metricValue(m)
		}
	}
	return -1
}

func metricValue(m *dto.Metric) float64 {
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return float64(m.GetHistogram().GetSampleCount())
}

func TestMetricsAndEventsDescribeEachRequest(t *testing.T) {
	reg := prometheus.NewRegistry()
	var events []RequestEvent
	h := newHarness(t, nil, func(o *Options) {
		o.Registerer = reg
		o.Observer = func(e RequestEvent) { events = append(events, e) }
	})
	h.do(t, http.MethodPost, "/customers", jsonHeader(), strings.NewReader(customer))
	h.do(t, http.MethodPost, "/customers", jsonHeader(), strings.NewReader("{"))
	h.do(t, http.MethodGet, "/elsewhere", nil, nil)

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"fieldseal_proxy_requests_total", map[string]string{"route": "customers-write", "outcome": "ok"}, 1},
		{"fieldseal_proxy_requests_total", map[string]string{"route": "customers-write", "outcome": "invalid_json"}, 1},
		{"fieldseal_proxy_requests_total", map[string]string{"route": "unmatched", "outcome": "forwarded"}, 1},
		{"fieldseal_proxy_fields_total", map[string]string{"class": "email", "op": "seal", "result": "ok"}, 1},
		{"fieldseal_proxy_fields_total", map[string]string{"class": "email", "op": "open", "result": "ok"}, 1},
		{"fieldseal_proxy_request_duration_seconds", map[string]string{"route": "customers-write"}, 2},
	} {
		if got := counter(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	if len(events) != 2 {
		t.Fatalf("got %d events, want one per protected request: %+v", len(events), events)
	}
	ok, bad := events[0], events[1]
	if ok.Outcome != "ok" || ok.Status != 200 || ok.Route != "customers-write" || ok.CallerID != "anonymous" || ok.RequestID == "" || ok.Method != "POST" {
		t.Errorf("success event %+v", ok)
	}
	if len(ok.KeyIDs) != 1 || ok.KeyIDs[0] != h.ring.Primary() {
		t.Errorf("key ids %v, want the primary %d", ok.KeyIDs, h.ring.Primary())
	}
	seals := 0
	for _, f := range ok.Fields {
		if f.Op == opSeal && f.Result == resultOK {
			seals += f.Count
		}
	}
	if seals != 4 {
		t.Errorf("event counts %d sealed fields, want 4: %+v", seals, ok.Fields)
	}
	if bad.Outcome != "invalid_json" || bad.Status != 400 {
		t.Errorf("failure event %+v", bad)
	}
}
