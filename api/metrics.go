package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/internal/promreg"
	"github.com/fieldseal/fieldseal/transform"
)

// Label values of calls that are not an operation (unknown path or method)
// and of a call's outcome when every item succeeded or some failed.
const (
	opNone           = "none"
	outcomeOK        = "ok"
	outcomeItemError = "item_errors"
)

// metrics are the API's Prometheus collectors. Labels are bounded: caller
// ids come from the policy configuration ("" when authentication failed),
// operations are seal, open, lookup or none, outcomes and results are the
// error codes of errors.go, classes come from the field map.
type metrics struct {
	requests *prometheus.CounterVec   // caller, operation, outcome
	duration *prometheus.HistogramVec // operation
	items    *prometheus.CounterVec   // caller, operation, result
	fields   *prometheus.CounterVec   // caller, class, op, result
}

// newMetrics returns the API's metrics, registered with reg unless it is nil.
func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		requests: promreg.CounterVec(reg, "fieldseal_api_requests_total",
			"Calls to the API listener, by caller id, operation (seal, open, lookup, none) and outcome (\"ok\", \"item_errors\" or the call's error code).",
			"caller", "operation", "outcome"),
		duration: promreg.HistogramVec(reg, "fieldseal_api_request_duration_seconds",
			"Time from call arrival until its answer was written, by operation.",
			promreg.RequestDurationBuckets, "operation"),
		items: promreg.CounterVec(reg, "fieldseal_api_items_total",
			"Items of API calls, by caller id, operation and result (\"ok\" or the item's error code).",
			"caller", "operation", "result"),
		fields: promreg.CounterVec(reg, "fieldseal_api_fields_total",
			"Values the API sealed, opened, masked or kept, by caller id, class, op (seal, open, mask, keep) and result.",
			"caller", "class", "op", "result"),
	}
}

// observe counts one call. API calls are batches: a label lookup per call
// and per item result costs little next to the sealing, so series are not
// cached as the proxy's are.
func (m *metrics) observe(caller, op, outcome string, seconds float64, items map[string]int, st *transform.Stats) {
	m.requests.WithLabelValues(caller, op, outcome).Inc()
	m.duration.WithLabelValues(op).Observe(seconds)
	for result, n := range items {
		m.items.WithLabelValues(caller, op, result).Add(float64(n))
	}
	for _, f := range st.Fields {
		m.fields.WithLabelValues(caller, f.Class, f.Op, f.Result).Add(float64(f.Count))
	}
}
