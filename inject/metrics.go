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
	m := &metrics{
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_inject_reviews_total",
			Help: "Admission reviews handled, by outcome (injected, skipped, denied, invalid).",
		}, []string{"outcome"}),
		certReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_inject_certificate_reloads_total",
			Help: "Webhook TLS certificate reloads after a file change, by result (ok, error).",
		}, []string{"result"}),
		certNotAfter: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldseal_inject_certificate_expiry_timestamp_seconds",
			Help: "NotAfter of the webhook TLS certificate being served, as a Unix time.",
		}),
	}
	if reg != nil {
		m.reviews = promreg.Register(reg, m.reviews)
		m.certReloads = promreg.Register(reg, m.certReloads)
		m.certNotAfter = promreg.Register(reg, m.certNotAfter)
	}
	return m
}
