package proxy

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/transform"
)

// unmatchedRoute is the route label of requests no route protects.
const unmatchedRoute = "unmatched"

// outcomeForwarded is the outcome of an unmatched request forwarded without error.
const outcomeForwarded = "forwarded"

// metrics are the proxy's Prometheus collectors. Every label is bounded:
// route names and classes come from the configuration, outcomes from the
// error codes in errors.go, ops and results from the transform package,
// caller ids from the policy configuration (Caller.ID must be bounded).
type metrics struct {
	requests  *prometheus.CounterVec   // route, outcome
	duration  *prometheus.HistogramVec // route
	fields    *prometheus.CounterVec   // caller, class, op, result
	bodyBytes *prometheus.HistogramVec // direction
	// reqBytes and respBytes are bodyBytes' two series, resolved once.
	reqBytes, respBytes prometheus.Observer

	// Series resolved on first use: WithLabelValues validates and hashes
	// every label value on every call, which the profile of a protected
	// request showed at a tenth of the proxy's own time (one lookup per
	// class, op and result). A series still appears in /metrics only once
	// it was first counted, as before.
	requestSeries  seriesCache[requestLabels, prometheus.Counter]
	durationSeries seriesCache[string, prometheus.Observer]
	fieldSeries    seriesCache[fieldLabels, prometheus.Counter]
}

type requestLabels struct{ route, outcome string }

type fieldLabels struct{ caller, class, op, result string }

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

func (m *metrics) observe(route, caller, outcome string, seconds float64, st *transform.Stats) {
	rl := requestLabels{route, outcome}
	requests, ok := m.requestSeries.load(rl)
	if !ok {
		requests = m.requestSeries.store(rl, m.requests.WithLabelValues(route, outcome))
	}
	requests.Inc()
	duration, ok := m.durationSeries.load(route)
	if !ok {
		duration = m.durationSeries.store(route, m.duration.WithLabelValues(route))
	}
	duration.Observe(seconds)
	if st == nil {
		return
	}
	for _, f := range st.Fields {
		fl := fieldLabels{caller, f.Class, f.Op, f.Result}
		c, ok := m.fieldSeries.load(fl)
		if !ok {
			c = m.fieldSeries.store(fl, m.fields.WithLabelValues(caller, f.Class, f.Op, f.Result))
		}
		c.Add(float64(f.Count))
	}
}

// maxCachedSeries bounds each series cache. Labels are bounded by the
// configuration, so this is only a backstop: past it, series are looked up
// per call as without a cache.
const maxCachedSeries = 4096

// seriesCache maps label values to a resolved series. Reads are lock-free
// (an immutable map behind an atomic pointer); a miss copies the map, which
// happens once per series.
type seriesCache[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V]
}

func (c *seriesCache[K, V]) load(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// store caches v for k (unless the cache is full) and returns v.
func (c *seriesCache[K, V]) store(k K, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[K]V
	if p := c.m.Load(); p != nil {
		old = *p
	}
	if len(old) >= maxCachedSeries {
		return v
	}
	next := make(map[K]V, len(old)+1)
	for key, val := range old {
		next[key] = val
	}
	next[k] = v
	c.m.Store(&next)
	return v
}
