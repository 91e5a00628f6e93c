package proxy

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// unmatchedRoute is the route label of requests no route protects.
const unmatchedRoute = "unmatched"

// outcomeForwarded is the outcome of an unmatched request forwarded without error.
const outcomeForwarded = "forwarded"

// metrics are the proxy's Prometheus collectors. Every label is bounded:
// route names and classes come from the configuration, outcomes from the
// error codes in errors.go, ops and results from the constants in transform.go,
// caller ids from the policy configuration (Caller.ID must be bounded).
type metrics struct {
	requests  *prometheus.CounterVec   // route, outcome
	duration  *prometheus.HistogramVec // route
	fields    *prometheus.CounterVec   // caller, class, op, result
	bodyBytes *prometheus.HistogramVec // direction
	// reqBytes and respBytes are bodyBytes' two series, resolved once.
	reqBytes, respBytes prometheus.Observer
	// forwarded gives the two series of unmatched requests forwarded
	// without error (most traffic), resolved once, on first use so that
	// they appear in /metrics only once such a request was seen.
	forwarded func() (prometheus.Counter, prometheus.Observer)
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_proxy_requests_total",
			Help: "Requests handled, by configured route name (or \"unmatched\") and outcome (\"ok\", \"forwarded\" or an error code).",
		}, []string{"route", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fieldseal_proxy_request_duration_seconds",
			Help:    "Time from request arrival until the handler returned, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		fields: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_proxy_fields_total",
			Help: "Protected field values handled, by caller id (from the policy configuration), class, op (seal, open, mask, keep) and result.",
		}, []string{"caller", "class", "op", "result"}),
		bodyBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fieldseal_proxy_transformed_body_bytes",
			Help:    "Size of decoded JSON bodies transformed on protected routes, by direction (request, response).",
			Buckets: prometheus.ExponentialBuckets(256, 4, 9), // 256 B .. 16 MiB
		}, []string{"direction"}),
	}
	m.reqBytes = m.bodyBytes.WithLabelValues("request")
	m.respBytes = m.bodyBytes.WithLabelValues("response")
	m.forwarded = sync.OnceValues(func() (prometheus.Counter, prometheus.Observer) {
		return m.requests.WithLabelValues(unmatchedRoute, outcomeForwarded), m.duration.WithLabelValues(unmatchedRoute)
	})
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.fields, m.bodyBytes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register proxy metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(route, caller, outcome string, seconds float64, st *stats) {
	if route == unmatchedRoute && outcome == outcomeForwarded && st == nil {
		requests, duration := m.forwarded()
		requests.Inc()
		duration.Observe(seconds)
		return
	}
	m.requests.WithLabelValues(route, outcome).Inc()
	m.duration.WithLabelValues(route).Observe(seconds)
	if st == nil {
		return
	}
	for _, f := range st.fields {
		m.fields.WithLabelValues(caller, f.Class, f.Op, f.Result).Add(float64(f.Count))
	}
}
