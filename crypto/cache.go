package crypto

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// Source loads key rings: crypto/localkeys reads a key-ring file,
// crypto/awskeys a Secrets Manager secret unwrapped with KMS. prev is the
// ring the cache serves (nil at first), so a source can carry unwrapped keys
// over instead of unwrapping them again.
type Source interface {
	Load(ctx context.Context, prev *Keyring) (*Keyring, error)
}

// Changer is optionally implemented by a Source with a cheap way to tell
// whether its ring changed since prev (a file hash, a secret version id).
// Periodic refresh calls Changed and loads only when it reports true.
type Changer interface {
	Changed(ctx context.Context, prev *Keyring) (bool, error)
}

// Key event kinds passed to CacheOptions.OnEvent (and used as the "event"
// log field).
const (
	// EventLoaded: the first key ring was loaded.
	EventLoaded = "loaded"
	// EventRefreshed: a new ring revision was loaded, same primary.
	EventRefreshed = "refreshed"
	// EventRotationSeen: a new ring was loaded with a different primary.
	EventRotationSeen = "rotation_seen"
	// EventError: a load or change check failed; the old ring is kept.
	EventError = "error"
)

// KeyEvent describes a key event for the audit log. It never carries key
// material; Err text never does either.
type KeyEvent struct {
	Kind     string
	Revision string
	Primary  uint32
	Versions []uint32
	Err      error
	Duration time.Duration
}

// CacheOptions configure a Cache. The zero value is usable.
type CacheOptions struct {
	// Interval between periodic refreshes (default 1m), with ±10% jitter.
	// It also caps the failure backoff.
	Interval time.Duration
	// Timeout bounds one load or change check (default 30s). It is an
	// addition to the contract and optional.
	Timeout time.Duration
	// Logger receives key events (default: disabled).
	Logger zerolog.Logger
	// Registerer receives the fieldseal_keys_* metrics (nil: none).
	Registerer prometheus.Registerer
	// OnEvent, if set, is called for every key event (audit hook). It runs
	// on the refreshing goroutine and must not block for long.
	OnEvent func(KeyEvent)
	// Now is the clock for status times, ring age and the on-demand
	// refresh rate limit (default time.Now).
	Now func() time.Time
	// MinRefreshInterval is the least time between two on-demand refreshes
	// started by RefreshForKey (default 5s). The key id of a sealed value
	// comes from the value, that is from whoever wrote the record: without
	// this bound a flood of forged values naming made-up key ids would turn
	// every request into a KMS / Secrets Manager call (cost, API throttling
	// that then also breaks the periodic refresh). With it, a sidecar that
	// missed a rotation opens the new key's values after at most one
	// provider round trip, or at most MinRefreshInterval later while such a
	// flood spends the budget.
	MinRefreshInterval time.Duration
}

// ErrRefreshLimited: RefreshForKey did not refresh because an on-demand
// refresh ran less than CacheOptions.MinRefreshInterval ago.
var ErrRefreshLimited = errors.New("on-demand key refresh rate limited")

// CacheStatus is the cache's state for /readyz and the admin endpoints.
// LastSuccess is when the ring was last loaded or confirmed current by the
// source's Changer.
type CacheStatus struct {
	Ready               bool      `json:"ready"`
	Revision            string    `json:"revision,omitempty"`
	Primary             uint32    `json:"primary,omitempty"`
	LastSuccess         time.Time `json:"last_success,omitzero"`
	LastAttempt         time.Time `json:"last_attempt,omitzero"`
	LastError           string    `json:"last_error,omitempty"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
}

// Cache is the key ring shared by every request. Keyring is a lock-free
// atomic load; Refresh lets one load run at a time however many callers
// ask; Run refreshes periodically. A failed refresh keeps the old ring.
type Cache struct {
	src     Source
	changer Changer // nil when src is not a Changer
	opts    CacheOptions
	ring    atomic.Pointer[Keyring]
	flight  singleflight.Group
	metrics *cacheMetrics // nil when no Registerer
	// onDemand bounds the refreshes RefreshForKey starts (burst 1, one per
	// MinRefreshInterval); it is only consulted when a key is missing.
	onDemand *rate.Limiter

	mu     sync.Mutex // guards status
	status CacheStatus

	// joined, if set (tests only), is called once a Refresh caller is
	// registered with the in-flight load.
	joined func()
}

// NewCache returns a cache over src. It loads nothing: call Refresh (or Run)
// to load the first ring; until then Keyring returns nil and Status is not
// ready.
func NewCache(src Source, opts CacheOptions) *Cache {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinRefreshInterval <= 0 {
		opts.MinRefreshInterval = 5 * time.Second
	}
	c := &Cache{src: src, opts: opts, onDemand: rate.NewLimiter(rate.Every(opts.MinRefreshInterval), 1)}
	c.changer, _ = src.(Changer)
	if opts.Registerer != nil {
		c.metrics = newCacheMetrics(c)
		if err := c.metrics.register(opts.Registerer); err != nil {
			opts.Logger.Error().Err(err).Str("event", "keys_metrics").Msg("register key cache metrics")
		}
	}
	return c
}

// Keyring returns the current ring without locking; nil before the first
// successful load.
func (c *Cache) Keyring() *Keyring { return c.ring.Load() }

// Status reports readiness and refresh health.
func (c *Cache) Status() CacheStatus {
	c.mu.Lock()
	st := c.status
	c.mu.Unlock()
	r := c.ring.Load()
	st.Ready = r != nil
	st.Revision = r.Revision()
	st.Primary = r.Primary()
	return st
}

// Refresh loads the ring from the source now. Concurrent callers share one
// load; each returns when it ends or when its own ctx is done. The load is
// bounded by CacheOptions.Timeout, not by any one caller's ctx. On failure
// the old ring stays in service and the error is returned.
func (c *Cache) Refresh(ctx context.Context) error {
	ch := c.flight.DoChan("load", func() (any, error) {
		return nil, c.load(context.WithoutCancel(ctx))
	})
	if c.joined != nil {
		c.joined()
	}
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return fmt.Errorf("refresh key ring: %w", ctx.Err())
	}
}

// Results of RefreshForKey: the result label of
// fieldseal_keys_unknown_key_refreshes_total.
const (
	unknownRefreshed    = "refreshed"     // the key is in the ring after the refresh
	unknownRateLimited  = "rate_limited"  // no refresh: the on-demand budget is spent
	unknownStillUnknown = "still_unknown" // refreshed (or found current); the key is not there
	unknownError        = "error"         // the refresh failed or the caller gave up
)

// RefreshForKey returns a ring holding key id, refreshing on demand when the
// current ring lacks it: the case of a sidecar that has not yet seen a
// rotation another sidecar already seals with. When the ring has id it
// returns at once (no lock, no I/O).
//
// Otherwise it refreshes through the same single flight as Refresh and Run
// (a change check first when the source is a Changer), so any number of
// concurrent callers cause one provider call, and at most one such
// on-demand refresh starts per CacheOptions.MinRefreshInterval (see there
// for why). Callers that arrive while one runs wait for it, up to their own
// ctx. It then returns the current ring and nil if the ring holds id, or
// the current ring (nil only if none was ever loaded) and an error: one
// wrapping ErrRefreshLimited, ErrUnknownKey when the refreshed ring still
// lacks id, the load error, or ctx's error.
func (c *Cache) RefreshForKey(ctx context.Context, id uint32) (*Keyring, error) {
	if r := c.ring.Load(); hasKey(r, id) {
		return r, nil
	}
	ch := c.flight.DoChan("on-demand", func() (any, error) {
		// The id of the caller that started this flight may have arrived
		// with a load that ended just before: no need to spend the budget.
		if hasKey(c.ring.Load(), id) {
			return nil, nil
		}
		if !c.onDemand.AllowN(c.opts.Now(), 1) {
			return nil, ErrRefreshLimited
		}
		return nil, c.check(context.WithoutCancel(ctx))
	})
	if c.joined != nil {
		c.joined()
	}
	var err error
	select {
	case res := <-ch:
		err = res.Err
	case <-ctx.Done():
		err = ctx.Err()
	}
	r := c.ring.Load()
	result := unknownRefreshed
	switch {
	case hasKey(r, id):
		err = nil
	case errors.Is(err, ErrRefreshLimited):
		result = unknownRateLimited
		err = fmt.Errorf("refresh key ring for key v%d: %w", id, err)
	case err != nil:
		result = unknownError
		err = fmt.Errorf("refresh key ring for key v%d: %w", id, err)
	default:
		result = unknownStillUnknown
		err = fmt.Errorf("refresh key ring for key v%d: not in revision %q: %w", id, r.Revision(), ErrUnknownKey)
	}
	if m := c.metrics; m != nil {
		m.unknownKey.WithLabelValues(result).Inc()
	}
	return r, err
}

func hasKey(r *Keyring, id uint32) bool {
	_, ok := r.Key(id)
	return ok
}

// check asks the Changer (if any) whether to load; it shares the flight
// with Refresh so that a check never runs beside a load.
func (c *Cache) check(ctx context.Context) error {
	prev := c.ring.Load()
	if c.changer == nil || prev == nil {
		return c.Refresh(ctx)
	}
	ch := c.flight.DoChan("load", func() (any, error) {
		return nil, c.checkAndLoad(context.WithoutCancel(ctx), prev)
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Cache) checkAndLoad(ctx context.Context, prev *Keyring) error {
	checkCtx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	changed, err := c.changer.Changed(checkCtx, prev)
	cancel()
	if err != nil {
		c.fail(fmt.Errorf("check key ring for changes: %w", err), 0)
		return err
	}
	if changed {
		return c.load(ctx)
	}
	now := c.opts.Now()
	c.mu.Lock()
	c.status.LastAttempt, c.status.LastSuccess = now, now
	c.status.LastError, c.status.ConsecutiveFailures = "", 0
	c.mu.Unlock()
	if m := c.metrics; m != nil {
		m.refreshes.WithLabelValues(resultUnchanged).Inc()
		m.failures.Set(0)
	}
	return nil
}

// load runs one Source.Load and installs its ring.
func (c *Cache) load(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	prev := c.ring.Load()
	began := time.Now()
	next, err := c.src.Load(ctx, prev)
	took := time.Since(began)
	if err == nil && next == nil {
		err = ErrNoKey
	}
	if err != nil {
		err = fmt.Errorf("load key ring: %w", err)
		c.fail(err, took)
		return err
	}
	c.ring.Store(next)

	now := c.opts.Now()
	c.mu.Lock()
	c.status.LastAttempt, c.status.LastSuccess = now, now
	c.status.LastError, c.status.ConsecutiveFailures = "", 0
	c.mu.Unlock()

	kind := ""
	switch {
	case prev == nil:
		kind = EventLoaded
	case prev.Primary() != next.Primary():
		kind = EventRotationSeen
	case prev.Revision() != next.Revision():
		kind = EventRefreshed
	}
	versions := make([]uint32, 0, len(next.versions))
	for _, v := range next.versions {
		versions = append(versions, v.ID)
	}
	if m := c.metrics; m != nil {
		m.refreshes.WithLabelValues(resultLoaded).Inc()
		m.duration.Observe(took.Seconds())
		m.primary.Set(float64(next.Primary()))
		m.versions.Set(float64(len(versions)))
		m.failures.Set(0)
	}
	if kind == "" {
		// Same revision: nothing an operator or auditor needs to see.
		return nil
	}
	c.opts.Logger.Info().Str("event", "keys_"+kind).Str("revision", next.Revision()).
		Uint32("primary", next.Primary()).Uints32("versions", versions).
		Dur("duration", took).Msg("key ring " + kind)
	c.emit(KeyEvent{Kind: kind, Revision: next.Revision(), Primary: next.Primary(), Versions: versions, Duration: took})
	return nil
}

func (c *Cache) fail(err error, took time.Duration) {
	now := c.opts.Now()
	c.mu.Lock()
	c.status.LastAttempt = now
	c.status.LastError = err.Error()
	c.status.ConsecutiveFailures++
	failures := c.status.ConsecutiveFailures
	c.mu.Unlock()
	r := c.ring.Load()
	if m := c.metrics; m != nil {
		m.refreshes.WithLabelValues(resultError).Inc()
		if took > 0 {
			m.duration.Observe(took.Seconds())
		}
		m.failures.Set(float64(failures))
	}
	c.opts.Logger.Error().Str("event", "keys_"+EventError).Err(err).
		Int("consecutive_failures", failures).Bool("serving", r != nil).
		Str("serving_revision", r.Revision()).Msg("key ring refresh failed; keeping the ring in service")
	c.emit(KeyEvent{Kind: EventError, Revision: r.Revision(), Primary: r.Primary(), Err: err, Duration: took})
}

func (c *Cache) emit(ev KeyEvent) {
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(ev)
	}
}

// Run refreshes until ctx is done: at once if no ring is loaded yet, then
// every Interval ±10%. When the source is a Changer, a periodic refresh
// first asks Changed and loads only on true. After a failure it retries
// with exponential backoff from Interval/32 up to Interval, keeping the old
// ring in service.
func (c *Cache) Run(ctx context.Context) {
	wait := time.Duration(0)
	if c.ring.Load() != nil {
		wait = c.jitter(c.opts.Interval)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.check(ctx); err != nil && ctx.Err() == nil {
			t.Reset(c.jitter(c.backoff()))
			continue
		}
		t.Reset(c.jitter(c.opts.Interval))
	}
}

// backoff is the wait after the current run of failures.
func (c *Cache) backoff() time.Duration {
	c.mu.Lock()
	n := c.status.ConsecutiveFailures
	c.mu.Unlock()
	d := max(c.opts.Interval/32, time.Millisecond)
	for i := 1; i < n && d < c.opts.Interval; i++ {
		d *= 2
	}
	return min(d, c.opts.Interval)
}

// jitter spreads d by ±10% so that many sidecars do not refresh together.
func (c *Cache) jitter(d time.Duration) time.Duration {
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread+1))
}
