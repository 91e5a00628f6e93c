package audit

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/internal/promreg"
)

// metrics are the audit writer's collectors; type is one of the Type* constants.
type metrics struct {
	events      *prometheus.CounterVec
	writeErrors prometheus.Counter
	lastSeq     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_audit_events_total",
			Help: "Audit events written, by type.",
		}, []string{"type"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldseal_audit_write_errors_total",
			Help: "Audit events that could not be written; the writer stops after the first.",
		}),
		lastSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldseal_audit_last_seq",
			Help: "Seq of the last audit line written: an external anchor against truncation of the audit file.",
		}),
	}
	for _, t := range []string{TypeStart, TypeRequest, TypeKey} {
		m.events.WithLabelValues(t)
	}
	if reg != nil {
		m.events = promreg.Register(reg, m.events)
		m.writeErrors = promreg.Register(reg, m.writeErrors)
		m.lastSeq = promreg.Register(reg, m.lastSeq)
	}
	return m
}
