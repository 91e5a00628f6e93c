package sidecartest

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are metric families by name, as a registry gathers them or a
// /metrics endpoint exposes them. Every test reads metrics through them:
// unit tests from the registry they passed in (Gather), end-to-end tests
// from a running process (Scrape).
type Families map[string]*dto.MetricFamily

// Gather collects the families of g; an error fails the test.
func Gather(t testing.TB, g prometheus.Gatherer) Families {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	f := Families{}
	for _, mf := range mfs {
		f[mf.GetName()] = mf
	}
	return f
}

// Scrape reads the Prometheus text exposition at url (a /metrics
// endpoint); a failed request, a status other than 200 or a parse error
// fails the test.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	resp, err := Get(url)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("scrape %s: %d %v", url, resp.Status, err)
	}
	return ParseText(t, resp.Body)
}

// ParseText parses the Prometheus text exposition format; an error fails
// the test.
func ParseText(t testing.TB, text []byte) Families {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	f, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return f
}

// Sum adds every sample of the family name whose labels include match (nil:
// all samples): a counter's or gauge's value, a histogram's sample count.
// It is 0 when no sample matches; Has tells an absent series from a zero.
func (f Families) Sum(name string, match map[string]string) float64 {
	var sum float64
	for _, m := range f.series(name, match) {
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// Has reports whether the family name has a sample whose labels include
// match.
func (f Families) Has(name string, match map[string]string) bool {
	return len(f.series(name, match)) > 0
}

// HistogramSum adds the sums of observations (in the histogram's unit) of
// every sample of the histogram name whose labels include match.
func (f Families) HistogramSum(name string, match map[string]string) float64 {
	var sum float64
	for _, m := range f.series(name, match) {
		sum += m.GetHistogram().GetSampleSum()
	}
	return sum
}

func (f Families) series(name string, match map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range f[name].GetMetric() {
		if hasLabels(m, match) {
			out = append(out, m)
		}
	}
	return out
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Value is Gather(t, g).Sum(name, match) for a series that must exist: it
// fails the test when no sample of name has labels that include match, so
// an expected zero is never an absent metric.
func Value(t testing.TB, g prometheus.Gatherer, name string, match map[string]string) float64 {
	t.Helper()
	f := Gather(t, g)
	if !f.Has(name, match) {
		t.Fatalf("metric %s%v not found", name, match)
	}
	return f.Sum(name, match)
}
