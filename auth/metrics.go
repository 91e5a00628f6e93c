package auth

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/internal/promreg"
)

// metrics are the auth package's collectors. Labels are bounded: reason is a
// Reason, result is "ok" or "error".
type metrics struct {
	failures    *prometheus.CounterVec
	verified    prometheus.Counter
	jwksFetches *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_auth_failures_total",
			Help: "Bearer tokens refused, by reason.",
		}, []string{"reason"}),
		verified: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldseal_auth_verified_total",
			Help: "Bearer tokens accepted.",
		}),
		jwksFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_auth_jwks_fetches_total",
			Help: "HTTP requests for the issuer's JWKS (start, periodic and unknown-kid refreshes), by result.",
		}, []string{"result"}),
	}
	for _, r := range Reasons() {
		m.failures.WithLabelValues(string(r))
	}
	m.jwksFetches.WithLabelValues("ok")
	m.jwksFetches.WithLabelValues("error")
	if reg != nil {
		// A reloaded configuration builds a new Verifier against the same
		// registry: keep counting in the collectors already registered.
		m.failures = promreg.Register(reg, m.failures)
		m.verified = promreg.Register(reg, m.verified)
		m.jwksFetches = promreg.Register(reg, m.jwksFetches)
	}
	return m
}
