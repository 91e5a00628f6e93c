package proxy

import (
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRepeatedSeriesAreCountedOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
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
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
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
