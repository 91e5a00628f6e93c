package proxy

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/internal/promreg"
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
	// The guard's decisions: class members sealed by their name (not a
	// route's path), and requests refused for what the application could
	// read differently (by error code).
	guardSealed  *prometheus.CounterVec // class
	guardRefused *prometheus.CounterVec // reason
	// reqBytes and respBytes are bodyBytes' two series, resolved once.
	reqBytes, respBytes prometheus.Observer

	// Series resolved on first use: WithLabelValues validates and hashes
	// every label value on every call, which the profile of a protected
	// request showed at a tenth of the proxy's own time (one lookup per
	// class, op and result). They cannot all be resolved up front: caller
	// ids come from the authenticator and routes change on reload. A series
	// still appears in /metrics only once it was first counted.
	requestSeries  seriesCache[requestLabels, prometheus.Counter]
	durationSeries seriesCache[string, prometheus.Observer]
	fieldSeries    seriesCache[fieldLabels, prometheus.Counter]
	guardSeries    seriesCache[string, prometheus.Counter]
}

type requestLabels struct{ route, outcome string }

type fieldLabels struct{ caller, class, op, result string }

// newMetrics returns the proxy's metrics, registered with reg unless it is
// nil. A proxy built again on the same registry counts in the collectors
// already there; a collector of another kind under one of these names
// panics (see internal/promreg).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_proxy_requests_total",
			Help: "Requests handled, by configured route name (or \"unmatched\") and outcome (\"ok\", \"forwarded\" or an error code).",
		}, []string{"route", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fieldseal_proxy_request_duration_seconds",
			Help:    "Time from request arrival until the handler returned, by route.",
			Buckets: promreg.RequestDurationBuckets,
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
		guardSealed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_guard_members_sealed_total",
			Help: "Values sealed because their member (or form field) name is a class key rather than a route's path, by class.",
		}, []string{"class"}),
		guardRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldseal_guard_requests_refused_total",
			Help: "Requests refused by the guard, by reason (the error code: unmatched_class_member, sealed_value_refused, shape_mismatch, too_deep, unsupported_media_type, upgrade_refused, protected_file_part, invalid_form, busy).",
		}, []string{"reason"}),
	}
	if reg != nil {
		m.guardSealed = promreg.Register(reg, m.guardSealed)
		m.guardRefused = promreg.Register(reg, m.guardRefused)
		m.requests = promreg.Register(reg, m.requests)
		m.duration = promreg.Register(reg, m.duration)
		m.fields = promreg.Register(reg, m.fields)
		m.bodyBytes = promreg.Register(reg, m.bodyBytes)
	}
	m.reqBytes = m.bodyBytes.WithLabelValues("request")
	m.respBytes = m.bodyBytes.WithLabelValues("response")
	return m
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

// guardReasons are the error codes counted as the guard's refusals.
var guardReasons = map[string]bool{
	"unmatched_class_member": true, "sealed_value_refused": true, "shape_mismatch": true, "too_deep": true,
	"unsupported_media_type": true, "upgrade_refused": true, "protected_file_part": true, "invalid_form": true, "busy": true,
}

// guard counts the guard's decisions for one request.
func (m *metrics) guard(st *transform.Stats, failed *errorClass) {
	if failed != nil {
		if guardReasons[failed.Code] {
			m.guardRefused.WithLabelValues(failed.Code).Inc()
		}
		return // nothing sealed reached the upstream
	}
	for _, f := range st.Fields {
		if f.Via == transform.ViaMember && f.Op == transform.OpSeal && f.Result == transform.ResultOK {
			c, ok := m.guardSeries.load(f.Class)
			if !ok {
				c = m.guardSeries.store(f.Class, m.guardSealed.WithLabelValues(f.Class))
			}
			c.Add(float64(f.Count))
		}
	}
}

// maxCachedSeries bounds each series cache. Labels are bounded by the
// configuration, so this is only a backstop: past it, series are looked up
// per call as without a cache.
const maxCachedSeries = 4096

// seriesCache maps label values to a resolved series. Most reads are
// lock-free lookups in an immutable snapshot map, which neither allocate nor
// hash through the key's type (a sync.Map boxes a struct key into an
// interface on every Load: an allocation and a generic hash per class, op and
// result of every protected request). New entries go to a mutex-guarded
// dirty map; once the lookups that missed the snapshot reach the number of
// entries, snapshot and dirty map are merged into a new snapshot (the
// promotion rule of sync.Map), so each entry is copied an amortised constant
// number of times rather than once per later insert.
type seriesCache[K comparable, V any] struct {
	read atomic.Pointer[map[K]V] // immutable once stored

	mu     sync.Mutex
	dirty  map[K]V // entries not yet in read
	misses int     // lookups that missed read since it was stored
}

func (c *seriesCache[K, V]) snapshot() map[K]V {
	if m := c.read.Load(); m != nil {
		return *m
	}
	return nil
}

func (c *seriesCache[K, V]) load(k K) (V, bool) {
	if v, ok := c.snapshot()[k]; ok {
		return v, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.snapshot()[k] // promoted while we waited
	if !ok {
		v, ok = c.dirty[k]
		c.missed()
	}
	return v, ok
}

// missed counts a lookup that took the lock and promotes the dirty map once
// such lookups reach the number of entries. Callers hold c.mu.
func (c *seriesCache[K, V]) missed() {
	c.misses++
	read := c.snapshot()
	if len(c.dirty) == 0 || c.misses < len(read)+len(c.dirty) {
		return
	}
	next := make(map[K]V, len(read)+len(c.dirty))
	for k, v := range read {
		next[k] = v
	}
	for k, v := range c.dirty {
		next[k] = v
	}
	c.read.Store(&next)
	c.dirty, c.misses = nil, 0
}

// store caches v for k (unless the cache holds maxCachedSeries entries) and
// returns the series cached for k: v, or the one a concurrent store cached
// first.
func (c *seriesCache[K, V]) store(k K, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	read := c.snapshot()
	if have, ok := read[k]; ok {
		return have
	}
	if have, ok := c.dirty[k]; ok {
		return have
	}
	if len(read)+len(c.dirty) >= maxCachedSeries {
		return v
	}
	if c.dirty == nil {
		c.dirty = make(map[K]V)
	}
	c.dirty[k] = v
	return v
}
