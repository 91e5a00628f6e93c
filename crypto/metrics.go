package crypto

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the result label of fieldseal_keys_refresh_total.
const (
	resultLoaded    = "loaded"    // Source.Load returned a ring
	resultUnchanged = "unchanged" // Changer said the ring is current
	resultError     = "error"     // load or check failed; old ring kept
)

// cacheMetrics are the key cache's metrics; all carry no key material.
type cacheMetrics struct {
	refreshes *prometheus.CounterVec
	duration  prometheus.Histogram
	age       prometheus.GaugeFunc
	primary   prometheus.Gauge
	versions  prometheus.Gauge
	failures  prometheus.Gauge
	// unknownKey counts RefreshForKey calls for a key the ring lacked.
	unknownKey *prometheus.CounterVec
}

func newCacheMetrics(c *Cache) *cacheMetrics {
	m := &cacheMetrics{
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_keys_refresh_total",
			Help: "Key ring refreshes by result (loaded, unchanged, error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fieldseal_keys_refresh_duration_seconds",
			Help:    "Time taken by one key ring load from the key source.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		age: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fieldseal_keys_ring_age_seconds",
			Help: "Seconds since the key ring was last loaded or confirmed current (0 before the first load).",
		}, func() float64 {
			st := c.Status()
			if st.LastSuccess.IsZero() {
				return 0
			}
			return c.opts.Now().Sub(st.LastSuccess).Seconds()
		}),
		primary: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldseal_keys_primary_version",
			Help: "Key id new values are sealed under.",
		}),
		versions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldseal_keys_versions",
			Help: "Number of key versions in the key ring.",
		}),
		failures: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldseal_keys_consecutive_failures",
			Help: "Key ring refreshes failed in a row (0 when healthy).",
		}),
		unknownKey: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_keys_unknown_key_refreshes_total",
			Help: "Requests for a key id the key ring lacked (a value sealed under a key this sidecar has not loaded yet, or a forged id), " +
				"by result: refreshed (the key was found after an on-demand refresh), rate_limited (no refresh: one ran less than the minimum refresh interval ago), " +
				"still_unknown (refreshed, key not there), error (the refresh failed or the request gave up). Provider loads are counted in fieldseal_keys_refresh_total.",
		}, []string{"result"}),
	}
	// Every result exists from the start, so rate() and alerts see zeros.
	for _, r := range []string{unknownRefreshed, unknownRateLimited, unknownStillUnknown, unknownError} {
		m.unknownKey.WithLabelValues(r)
	}
	return m
}

func (m *cacheMetrics) register(reg prometheus.Registerer) error {
	var errs []error
	for _, c := range []prometheus.Collector{m.refreshes, m.duration, m.age, m.primary, m.versions, m.failures, m.unknownKey} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}
