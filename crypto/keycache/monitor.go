package keycache

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/promreg"
)

// MonitorOptions configure a Monitor. The zero value logs nothing and
// registers nothing.
type MonitorOptions struct {
	// Logger receives one line per key event (default: disabled).
	Logger zerolog.Logger
	// Registerer receives the fieldseal_keys_* metrics (nil: none). A
	// second Monitor on the same registry counts in the first one's
	// collectors; the ring age is then the first one's.
	Registerer prometheus.Registerer
	// Now is the clock for the ring age (default time.Now); give it the
	// cache's Options.Now.
	Now func() time.Time
	// NoRingHint tells an operator what to check when a load fails with no
	// ring in service yet (a missing ring, a master key or KMS key that does
	// not open it); it is logged as "hint" on those lines only.
	NoRingHint string
}

// Monitor is the Observer a process gives its Cache: it logs key events
// with zerolog and exports the fieldseal_keys_* Prometheus metrics, none of
// which carries key material.
//
// Log lines have stable fields: "event" (keys_loaded, keys_refreshed,
// keys_rotation_seen, keys_error), "revision", "primary", "versions",
// "duration_seconds"; on errors "error", "consecutive_failures", "serving",
// "serving_revision" and "refused" (the reason a ring read was refused as
// no successor of the one in service, else ""). A load that finds the
// revision in service and a
// change check that finds the ring current are counted, not logged. With
// Options.MaxStale, keys_stale_warning (warn), keys_stale_refused (error)
// and keys_stale_recovered (info) carry "age_seconds", "max_stale_seconds" and, while
// refreshes fail, "last_error". A Rotator's checks log keys_rotated (info),
// keys_rotation_failed (error) and keys_rotation_due (warn, once per
// primary, when the process may not rotate), with "reason".
type Monitor struct {
	log        zerolog.Logger
	now        func() time.Time
	noRingHint string
	// lastSuccess is Refresh.Time of the last success, in Unix
	// nanoseconds; 0 before the first.
	lastSuccess atomic.Int64

	refreshes *prometheus.CounterVec
	duration  prometheus.Histogram
	age       prometheus.GaugeFunc
	primary   prometheus.Gauge
	versions  prometheus.Gauge
	failures  prometheus.Gauge
	// unknownKey counts RefreshForKey calls for a key the ring lacked.
	unknownKey *prometheus.CounterVec
	// refused counts rings read and refused as no successor of the ring
	// in service, by reason.
	refused *prometheus.CounterVec
	// maxStale is Options.MaxStale (0: no bound, or no check yet); stale
	// is 1 while the ring is withheld for being older.
	maxStale prometheus.Gauge
	stale    prometheus.Gauge

	// ring is the last ring a refresh reported, read by the seal counter
	// at scrape time.
	ring      atomic.Pointer[crypto.Keyring]
	rotDue    *prometheus.GaugeVec
	rotations *prometheus.CounterVec
}

var _ RotationObserver = (*Monitor)(nil)

// sealCollector exports fieldseal_keys_seals_total{version}: the values this
// process sealed under each key version of the ring in service, read from
// the ring's own counters at scrape time (crypto.Keyring.SealCount).
type sealCollector struct {
	m    *Monitor
	desc *prometheus.Desc
}

func (s sealCollector) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

func (s sealCollector) Collect(ch chan<- prometheus.Metric) {
	r := s.m.ring.Load()
	for _, v := range r.Versions() {
		if v.Destroyed {
			continue
		}
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.CounterValue, float64(r.SealCount(v.ID)), strconv.FormatUint(uint64(v.ID), 10))
	}
}

var _ Observer = (*Monitor)(nil)

// NewMonitor returns a Monitor, its metrics registered with
// opts.Registerer. A collector of another kind already registered under
// one of its names is a programming error and panics.
func NewMonitor(opts MonitorOptions) *Monitor {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	reg := opts.Registerer
	m := &Monitor{
		log:        opts.Logger,
		now:        opts.Now,
		noRingHint: opts.NoRingHint,
		refreshes: promreg.CounterVec(reg, "fieldseal_keys_refresh_total",
			"Key ring refreshes by result (loaded, unchanged, error).", "result"),
		duration: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fieldseal_keys_refresh_duration_seconds",
			Help:    "Time taken by one key ring load from the key source.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		})),
		primary:  promreg.Gauge(reg, "fieldseal_keys_primary_version", "Key id new values are sealed under."),
		versions: promreg.Gauge(reg, "fieldseal_keys_versions", "Number of key versions in the key ring."),
		failures: promreg.Gauge(reg, "fieldseal_keys_consecutive_failures", "Key ring refreshes failed in a row (0 when healthy)."),
		unknownKey: promreg.CounterVec(reg, "fieldseal_keys_unknown_key_refreshes_total",
			"Requests for a key id the key ring lacked (a value sealed under a key this sidecar has not loaded yet, or a forged id), "+
				"by result: refreshed (the key was found after an on-demand refresh), rate_limited (the request gave up while waiting for the next allowed refresh, one having run less than the minimum refresh interval before), "+
				"still_unknown (refreshed, key not there), error (the refresh failed or the request gave up). Provider loads are counted in fieldseal_keys_refresh_total.",
			"result"),
		refused: promreg.CounterVec(reg, "fieldseal_keys_ring_refused_total",
			"Key rings read from the key source and refused because they are no later state of the ring in service (a replayed older copy, a re-created ring, a restore), "+
				"by reason: ring_id, lost_version, key_changed, unretired, undestroyed, min_lowered, primary_back. The ring in service stays; a restart adopts the new one.",
			"reason"),
		maxStale: promreg.Gauge(reg, "fieldseal_keys_max_stale_seconds",
			"The bound on the key ring's age (keys.max_stale) past which it is no longer served; 0 when there is none."),
		stale: promreg.Gauge(reg, "fieldseal_keys_stale",
			"1 while the key ring is older than its max stale bound and not served (protected routes refused), else 0."),
	}
	m.rotDue = promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fieldseal_keys_rotation_due",
		Help: "1 while the primary key version has passed a keys.rotation bound (reason age: keys.rotation.max_age; seals: keys.rotation.max_seals, counted by this process) and no rotation has replaced it yet, else 0.",
	}, []string{"reason"}))
	m.rotations = promreg.CounterVec(reg, "fieldseal_keys_rotations_total",
		"Rotations this sidecar attempted because the primary passed a keys.rotation bound, by result: rotated (it added the new primary), "+
			"not_needed (another process had rotated first), failed (the provider refused or failed; retried).", "result")
	for _, r := range []string{ReasonAge, ReasonSeals} {
		m.rotDue.WithLabelValues(r)
	}
	for _, r := range []string{RotationRotated, RotationNotNeeded, RotationFailed} {
		m.rotations.WithLabelValues(r)
	}
	seals := prometheus.Opts{Name: "fieldseal_keys_seals_total",
		Help: "Values this process sealed under each key version (label version), since it started; compare with keys.rotation.max_seals and the algorithm's bound (docs/keys.md)."}
	promreg.Register[prometheus.Collector](reg, sealCollector{m: m, desc: prometheus.NewDesc(seals.Name, seals.Help, []string{"version"}, nil)})
	m.age = promreg.Register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fieldseal_keys_ring_age_seconds",
		Help: "Seconds since the key ring was last loaded or confirmed current (0 before the first load).",
	}, m.ringAge))
	// Every result exists from the start, so rate() and alerts see zeros.
	for _, r := range []UnknownKeyResult{UnknownKeyRefreshed, UnknownKeyRateLimited, UnknownKeyStillUnknown, UnknownKeyError} {
		m.unknownKey.WithLabelValues(string(r))
	}
	for _, r := range []string{crypto.ReasonRingID, crypto.ReasonLostVersion, crypto.ReasonKeyChanged, crypto.ReasonUnretired,
		crypto.ReasonUndestroyed, crypto.ReasonMinLowered, crypto.ReasonPrimaryBack} {
		m.refused.WithLabelValues(r)
	}
	return m
}

func (m *Monitor) ringAge() float64 {
	last := m.lastSuccess.Load()
	if last == 0 {
		return 0
	}
	return m.now().Sub(time.Unix(0, last)).Seconds()
}

// loadMessage is the log message of a load's key event kind.
func loadMessage(kind string) string {
	switch kind {
	case EventLoaded:
		return "key ring loaded"
	case EventRefreshed:
		return "key ring refreshed: a new revision with the same primary"
	case EventRotationSeen:
		return "key ring rotation seen: a new primary is in use"
	}
	return "key ring " + kind
}

// Refreshed counts r and logs its key event, if any.
func (m *Monitor) Refreshed(r Refresh) {
	m.refreshes.WithLabelValues(string(r.Result)).Inc()
	if r.Ring != nil {
		m.ring.Store(r.Ring)
	}
	if r.Loaded {
		m.duration.Observe(r.Event.Duration.Seconds())
	}
	m.failures.Set(float64(r.Failures))
	if r.Refused != "" {
		m.refused.WithLabelValues(r.Refused).Inc()
	}
	if r.Result == ResultError {
		ev := m.log.Error().Str("event", "keys_"+EventError).Err(r.Event.Err).Str("refused", r.Refused).
			Int("consecutive_failures", r.Failures).Bool("serving", r.Ring != nil)
		if r.Ring == nil {
			if m.noRingHint != "" {
				ev = ev.Str("hint", m.noRingHint)
			}
			ev.Msg("key ring load failed and no ring is in service: protected routes are refused until a load succeeds")
			return
		}
		ev.Str("serving_revision", r.Ring.Revision()).Msg("key ring refresh failed; keeping the ring in service")
		return
	}
	m.lastSuccess.Store(r.Time.UnixNano())
	if r.Result != ResultLoaded {
		return
	}
	ev := r.Event
	m.primary.Set(float64(ev.Primary))
	m.versions.Set(float64(len(ev.Versions)))
	if ev.Kind == "" {
		return
	}
	m.log.Info().Str("event", "keys_"+ev.Kind).Str("revision", ev.Revision).
		Uint32("primary", ev.Primary).Uints32("versions", ev.Versions).
		Float64("duration_seconds", ev.Duration.Seconds()).Msg(loadMessage(ev.Kind))
}

// UnknownKey counts one on-demand lookup of a key id the ring lacked.
func (m *Monitor) UnknownKey(r UnknownKeyResult) {
	m.unknownKey.WithLabelValues(string(r)).Inc()
}

// Stale sets the staleness gauges and logs the check's event, if any.
func (m *Monitor) Stale(s Staleness) {
	m.maxStale.Set(s.MaxStale.Seconds())
	stale := 0.0
	if s.Stale {
		stale = 1
	}
	m.stale.Set(stale)
	var ev *zerolog.Event
	var msg string
	switch s.Event {
	case StaleWarning:
		ev, msg = m.log.Warn(), "key ring not refreshed for half of its max stale bound; still serving it"
	case StaleRefused:
		ev, msg = m.log.Error(), "key ring not refreshed within its max stale bound; protected routes are refused until a refresh succeeds"
	case StaleRecovered:
		ev, msg = m.log.Info(), "key ring refreshed; serving it again"
	default:
		return
	}
	ev = ev.Str("event", "keys_"+s.Event).Float64("age_seconds", s.Age.Seconds()).Float64("max_stale_seconds", s.MaxStale.Seconds())
	if s.LastError != "" {
		ev = ev.Str("last_error", s.LastError)
	}
	ev.Msg(msg)
}

// RotationChecked sets fieldseal_keys_rotation_due, counts attempts and
// logs what an operator acts on: keys_rotated (info), keys_rotation_failed
// (error), and keys_rotation_due (warn, once per primary) when this process
// may not rotate the ring itself.
func (m *Monitor) RotationChecked(c RotationCheck) {
	if c.Primary == 0 {
		return
	}
	set := func(reason string, due bool) {
		v := 0.0
		// An attempt that succeeded replaced the primary found due.
		if due && (c.Result == "" || c.Result == RotationFailed) {
			v = 1
		}
		m.rotDue.WithLabelValues(reason).Set(v)
	}
	set(ReasonAge, c.DueAge)
	set(ReasonSeals, c.DueSeals)
	if c.Result != "" {
		m.rotations.WithLabelValues(c.Result).Inc()
	}
	switch {
	case c.Result == RotationRotated:
		m.log.Info().Str("event", "keys_"+EventRotated).Str("reason", c.Reason).Uint32("previous_primary", c.Primary).
			Float64("age_seconds", c.Age.Seconds()).Uint64("seals", c.Seals).Msg("key ring rotated: the primary passed its keys.rotation bound")
	case c.Result == RotationFailed:
		m.log.Error().Str("event", "keys_rotation_failed").Str("reason", c.Reason).Uint32("primary", c.Primary).Err(c.Err).
			Msg("rotating the key ring failed; retrying")
	case c.FirstDue && !c.CanRotate:
		m.log.Warn().Str("event", "keys_"+EventRotationDue).Str("reason", c.Reason).Uint32("primary", c.Primary).
			Float64("age_seconds", c.Age.Seconds()).Uint64("seals", c.Seals).
			Msg("the primary key version passed its keys.rotation bound; run `fieldseal keys rotate` (this sidecar may not write the ring)")
	}
}
