package proxy

import (
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRepeatedSeriesAreCountedOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	st := &stats{}
	st.add("email", ActionDecrypt, opSeal, resultOK)
	for range 3 {
		m.observe("r", "c", "ok", 0.001, st)
	}
	if got := counter(t, reg, "fieldseal_proxy_requests_total", map[string]string{"route": "r", "outcome": "ok"}); got != 3 {
		t.Errorf("requests = %v, want 3", got)
	}
	if got := counter(t, reg, "fieldseal_proxy_fields_total", map[string]string{"caller": "c", "class": "email", "op": opSeal, "result": resultOK}); got != 3 {
		t.Errorf("fields = %v, want 3", got)
	}
}

func TestMetricsBuiltTwiceOnARegistryCountTogether(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, second := newMetrics(reg), newMetrics(reg) // a proxy rebuilt on the process's registry
	first.observe("r", "c", "ok", 0.001, nil)
	second.observe("r", "c", "ok", 0.001, nil)
	if got := counter(t, reg, "fieldseal_proxy_requests_total", map[string]string{"route": "r", "outcome": "ok"}); got != 2 {
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
	st := &stats{}
	for _, class := range []string{"email", "phone", "street", "ssn"} {
		st.add(class, ActionDecrypt, opSeal, resultOK)
		st.add(class, ActionDecrypt, opOpen, resultOK)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.observe("bench", "anonymous", "ok", 0.001, st)
	}
}
