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
	// A reloaded configuration builds a new Verifier against the same
	// registry: promreg keeps counting in the collectors already registered.
	m := &metrics{
		failures: promreg.CounterVec(reg, "fieldseal_auth_failures_total", "Bearer tokens refused, by reason.", "reason"),
		verified: promreg.Counter(reg, "fieldseal_auth_verified_total", "Bearer tokens accepted."),
		jwksFetches: promreg.CounterVec(reg, "fieldseal_auth_jwks_fetches_total",
			"HTTP requests for the issuer's JWKS (start, periodic and unknown-kid refreshes), by result.", "result"),
	}
	for _, r := range Reasons() {
		m.failures.WithLabelValues(string(r))
	}
	m.jwksFetches.WithLabelValues("ok")
	m.jwksFetches.WithLabelValues("error")
	return m
}
