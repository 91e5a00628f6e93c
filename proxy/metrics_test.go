package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/transform"
)

func TestRepeatedSeriesAreCountedOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	st := &transform.Stats{Fields: []transform.FieldStat{{Class: "email", Action: transform.ActionDecrypt, Op: transform.OpSeal, Result: transform.ResultOK, Count: 1}}}
	for range 3 {
		m.observe("r", "c", "ok", 0.001, st)
	}
	if got := sidecartest.Value(t, reg, "fieldseal_proxy_requests_total", map[string]string{"route": "r", "outcome": "ok"}); got != 3 {
		t.Errorf("requests = %v, want 3", got)
	}
	if got := sidecartest.Value(t, reg, "fieldseal_proxy_fields_total", map[string]string{"caller": "c", "class": "email", "op": transform.OpSeal, "result": transform.ResultOK}); got != 3 {
		t.Errorf("fields = %v, want 3", got)
	}
}

func TestMetricsBuiltTwiceOnARegistryCountTogether(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, second := newMetrics(reg), newMetrics(reg) // a proxy rebuilt on the process's registry
	first.observe("r", "c", "ok", 0.001, nil)
	second.observe("r", "c", "ok", 0.001, nil)
	if got := sidecartest.Value(t, reg, "fieldseal_proxy_requests_total", map[string]string{"route": "r", "outcome": "ok"}); got != 2 {
		t.Errorf("requests = %v, want 2", got)
	}
}

func TestConcurrentMissesShareOneSeries(t *testing.T) {
	var c seriesCache[string, prometheus.Counter]
	const goroutines = 16
	got := make([]prometheus.Counter, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			// Each brings its own value; all must end up counting in one.
			got[i] = c.store("k", prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: "x"}))
		})
	}
	wg.Wait()
	cached, ok := c.load("k")
	if !ok {
		t.Fatal("series not cached")
	}
	for i, s := range got {
		if s != cached {
			t.Fatalf("goroutine %d got another series than the one cached", i)
		}
	}
}

func TestSeriesPastTheCacheBoundAreStillCounted(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"k"})
	var c seriesCache[string, prometheus.Counter]
	for i := range maxCachedSeries + 10 {
		k := strconv.Itoa(i)
		if _, ok := c.load(k); ok {
			t.Fatalf("series %s cached before it was stored", k)
		}
		c.store(k, vec.WithLabelValues(k)).Inc()
		if _, ok := c.load(k); ok != (i < maxCachedSeries) {
			t.Fatalf("series %d: cached = %v", i, ok)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(vec)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(mfs[0].GetMetric()); got != maxCachedSeries+10 {
		t.Errorf("%d series collected, want %d", got, maxCachedSeries+10)
	}
}

// BenchmarkObserveProtected is the metrics share of a protected request on
// the bench route: the request and duration series and one field series
// per class, op and result (4 classes sealed, 4 opened).
func BenchmarkObserveProtected(b *testing.B) {
	m := newMetrics(prometheus.NewRegistry())
	st := &transform.Stats{}
	for _, class := range []string{"email", "phone", "street", "ssn"} {
		for _, op := range []string{transform.OpSeal, transform.OpOpen} {
			st.Fields = append(st.Fields, transform.FieldStat{Class: class, Action: transform.ActionDecrypt, Op: op, Result: transform.ResultOK, Count: 1})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		m.observe("bench", "anonymous", "ok", 0.001, st)
	}
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
		if got := sidecartest.Value(t, reg, c.name, c.labels); got != c.want {
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
		if f.Op == transform.OpSeal && f.Result == transform.ResultOK {
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

// Series stored after the first request reach the lock-free snapshot once
// they have been looked up as often as the cache has entries, and each
// promotion copies the cache once rather than once per insert.
func TestStoredSeriesArePromotedToTheSnapshot(t *testing.T) {
	var c seriesCache[int, int]
	const n = 100
	for k := range n {
		c.store(k, k)
	}
	if got := len(c.snapshot()); got != 0 {
		t.Fatalf("snapshot has %d entries before any lookup, want 0", got)
	}
	for range 2 {
		for k := range n {
			if v, ok := c.load(k); !ok || v != k {
				t.Fatalf("load(%d) = %d, %v", k, v, ok)
			}
		}
	}
	if got := len(c.snapshot()); got != n {
		t.Fatalf("snapshot has %d entries after %d lookups, want %d", got, 2*n, n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dirty) != 0 {
		t.Fatalf("dirty map still holds %d entries", len(c.dirty))
	}
}
