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
		events: promreg.CounterVec(reg, "fieldseal_audit_events_total", "Audit events written, by type.", "type"),
		writeErrors: promreg.Counter(reg, "fieldseal_audit_write_errors_total",
			"Audit events that could not be written; the writer stops after the first."),
		lastSeq: promreg.Gauge(reg, "fieldseal_audit_last_seq",
			"Seq of the last audit line written: an external anchor against truncation of the audit file."),
	}
	for _, t := range []string{TypeStart, TypeRequest, TypeKey} {
		m.events.WithLabelValues(t)
	}
	return m
}
