package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"l"})
}

func TestRegisterReusesTheRegisteredCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	first := Register(reg, newCounter())
	second := Register(reg, newCounter())
	second.WithLabelValues("a").Inc()
	if got := testutil.ToFloat64(first.WithLabelValues("a")); got != 1 {
		t.Fatalf("the second instance counted elsewhere: first sees %v, want 1", got)
	}
}

func TestRegisterPanicsOnAClash(t *testing.T) {
	reg := prometheus.NewRegistry()
	Register(reg, newCounter())
	defer func() {
		if recover() == nil {
			t.Fatal("a gauge under a counter's name was accepted")
		}
	}()
	Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_total", Help: "other"}))
}
