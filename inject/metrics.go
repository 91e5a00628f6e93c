package inject

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/internal/promreg"
)

// metrics are the injector's Prometheus metrics; nil fields are never used
// because newMetrics always fills them (registering only when asked).
type metrics struct {
	reviews      *prometheus.CounterVec
	certReloads  *prometheus.CounterVec
	certNotAfter prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		reviews: promreg.CounterVec(reg, "fieldseal_inject_reviews_total",
			"Admission reviews handled, by outcome (injected, skipped, denied, invalid).", "outcome"),
		certReloads: promreg.CounterVec(reg, "fieldseal_inject_certificate_reloads_total",
			"Webhook TLS certificate reloads after a file change, by result (ok, error).", "result"),
		certNotAfter: promreg.Gauge(reg, "fieldseal_inject_certificate_expiry_timestamp_seconds",
			"NotAfter of the webhook TLS certificate being served, as a Unix time."),
	}
}
