package keycache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/fieldseal/fieldseal/crypto"
)

// Options configure a Cache. The zero value is usable.
type Options struct {
	// Interval between periodic refreshes (default DefaultInterval). Each
	// Cache runs its periodic refreshes at a phase of its own, drawn at
	// random once in [0, Interval), then exactly Interval apart, so a fleet
	// started together spreads its provider calls evenly over the interval
	// and each process sees a rotation within one Interval. It also caps
	// the failure backoff.
	Interval time.Duration
	// Timeout bounds one load or change check (default 30s). It is an
	// addition to the contract and optional.
	Timeout time.Duration
	// Observer is told about every refresh and on-demand key lookup, for
	// logs and metrics (nil: nobody). Monitor is the Prometheus and zerolog
	// one.
	Observer Observer
	// OnEvent, if set, is called for every key event (audit hook). It runs
	// on the refreshing goroutine, after Observer, and must not block for
	// long.
	OnEvent func(KeyEvent)
	// Now is the clock for status times and event times (default
	// time.Now). Run's timers, load durations and the on-demand refresh
	// budget (which callers wait for) use the time package, so that tests
	// in a testing/synctest bubble control them.
	Now func() time.Time
	// MinRefreshInterval is the least time between two on-demand refreshes
	// started by RefreshForKey (default 5s). The key id of a sealed value
	// comes from the value, that is from whoever wrote the record: without
	// this bound a flood of forged values naming made-up key ids would turn
	// every request into a KMS / Secrets Manager call (cost, API throttling
	// that then also breaks the periodic refresh). With it, a sidecar that
	// missed a rotation opens the new key's values after at most one
	// provider round trip, or, while such a flood spends the budget, after
	// waiting at most MinRefreshInterval for the next allowed refresh (the
	// request's own deadline permitting). Only plausible successor ids wait
	// (RefreshForKey); others fail at once while the budget is spent.
	MinRefreshInterval time.Duration
	// MaxStale bounds how long the ring is served after the last successful
	// refresh (a load, or a change check that found it current); 0 (the
	// default) sets no bound. Serving the old ring through an outage is
	// right for a blip, but a secret deleted or a CMK disabled on purpose
	// would then go unnoticed for ever. Past the bound Keyring and
	// RefreshForKey serve no ring and Status is not ready, until a refresh
	// succeeds; the Observer hears of it (Stale). Run checks the bound
	// every min(Interval, MaxStale/20), so a ring is withheld at most that
	// long after the bound; a successful refresh serves it again at once.
	MaxStale time.Duration
}

// DefaultInterval is Options.Interval's default. With the aws provider each
// periodic refresh is one Secrets Manager DescribeSecret (a load only when
// the ring changed), so 15 minutes keeps 10,000 sidecars under $5 a day of
// provider calls (README, "Fleet cost") while every process uses a new
// primary within 15 minutes of a rotation plus one load; values sealed under
// it before then open anywhere through RefreshForKey.
const DefaultInterval = 15 * time.Minute

// ErrRefreshLimited: RefreshForKey's caller gave up (its context ended)
// while waiting for the next allowed on-demand refresh, an on-demand
// refresh having run less than Options.MinRefreshInterval before. The
// error also wraps the context's error.
var ErrRefreshLimited = errors.New("on-demand key refresh rate limited")

// ErrStale: the ring was not refreshed within Options.MaxStale, so the cache
// serves none until a refresh succeeds. It wraps crypto.ErrNoKey, the
// category a caller refuses protected work for.
var ErrStale = fmt.Errorf("key ring not refreshed within its max stale bound: %w", crypto.ErrNoKey)

// Status is the cache's state for /readyz and the admin endpoints.
// LastSuccess is when the ring was last loaded or confirmed current by the
// source's Changer. Once the ring is older than Options.MaxStale, Ready is
// false, Stale true and LastError says why (the last refresh error
// included).
type Status struct {
	Ready               bool      `json:"ready"`
	Stale               bool      `json:"stale,omitempty"`
	Revision            string    `json:"revision,omitempty"`
	Primary             uint32    `json:"primary,omitempty"`
	LastSuccess         time.Time `json:"last_success,omitzero"`
	LastAttempt         time.Time `json:"last_attempt,omitzero"`
	LastError           string    `json:"last_error,omitempty"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	// RingRefused is set while the last ring read from the source was
	// refused by crypto.CheckSuccessor (a replayed, re-created or restored
	// ring): the reason and what was wrong. The ring in service stays (and
	// stays ready, up to Options.MaxStale); a restart adopts the new one.
	RingRefused string `json:"ring_refused,omitempty"`
}

// Cache is the key ring shared by every request. Keyring is a lock-free
// atomic load; Refresh lets one load run at a time however many callers
// ask; Run refreshes periodically. A failed refresh keeps the old ring.
type Cache struct {
	src     crypto.Source
	changer crypto.Changer // nil when src is not a Changer
	opts    Options
	ring    atomic.Pointer[crypto.Keyring]
	flight  singleflight.Group
	// onDemand bounds the refreshes RefreshForKey starts (burst 1, one per
	// MinRefreshInterval); it is only consulted when a key is missing.
	// budgetWait is set while the on-demand flight waits for it.
	onDemand   *rate.Limiter
	budgetWait atomic.Bool
	// absent holds the plausible successor ids a refresh found missing
	// from revision absentRev (guarded by absentMu): callers for them
	// fail at once instead of waiting for the budget while the ring stays
	// at that revision.
	absentMu  sync.Mutex
	absentRev string
	absent    map[uint32]struct{}

	mu     sync.Mutex // guards status
	status Status

	// stale is set while the ring is older than Options.MaxStale; the hot
	// path reads only this flag. staleMu orders the checks that set it
	// (Run's ticks, successful refreshes) so that a check that read an
	// older LastSuccess never overwrites a newer one's result; warned
	// (guarded by staleMu) is whether this spell's warning was reported.
	stale   atomic.Bool
	staleMu sync.Mutex
	warned  bool

	// joined, if set (tests only), is called once a Refresh caller is
	// registered with the in-flight load.
	joined func()
	// randN returns a uniform value in [0, n) (math/rand/v2.Int64N; tests
	// set it to fix the phase).
	randN func(n int64) int64
}

// New returns a cache over src. It loads nothing: call Refresh (or Run) to
// load the first ring; until then Keyring returns nil and Status is not
// ready.
func New(src crypto.Source, opts Options) *Cache {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
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
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	c := &Cache{src: src, opts: opts, onDemand: rate.NewLimiter(rate.Every(opts.MinRefreshInterval), 1), randN: rand.Int64N}
	c.changer, _ = src.(crypto.Changer)
	return c
}

// Keyring returns the current ring without locking; nil before the first
// successful load and while the ring is older than Options.MaxStale.
func (c *Cache) Keyring() *crypto.Keyring {
	if c.stale.Load() {
		return nil
	}
	return c.ring.Load()
}

// Status reports readiness and refresh health.
func (c *Cache) Status() Status {
	c.mu.Lock()
	st := c.status
	c.mu.Unlock()
	r := c.ring.Load()
	st.Ready = r != nil
	st.Revision = r.Revision()
	st.Primary = r.Primary()
	if c.stale.Load() {
		st.Ready, st.Stale = false, true
		st.LastError = fmt.Sprintf("key ring not refreshed since %s, over its max_stale bound of %s; refusing to serve it until a refresh succeeds (last error: %s)",
			st.LastSuccess.UTC().Format(time.RFC3339), c.opts.MaxStale, st.LastError)
	}
	return st
}

// Refresh loads the ring from the source now. Concurrent callers share one
// load; each returns when it ends or when its own ctx is done. The load is
// bounded by Options.Timeout, not by any one caller's ctx. On failure the
// old ring stays in service and the error is returned.
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

// RefreshForKey returns a ring holding key id, refreshing on demand when the
// current ring lacks it: the case of a sidecar that has not yet seen a
// rotation another sidecar already seals with. When the ring has id it
// returns at once (no lock, no I/O).
//
// Otherwise it refreshes through the same single flight as Refresh and Run
// (a change check first when the source is a Changer), so any number of
// concurrent callers cause one provider call, and at most one such
// on-demand refresh starts per Options.MinRefreshInterval (see there for
// why). When one ran less than that ago, only a caller for a plausible
// successor waits for the next allowed one (at most MinRefreshInterval), so
// that one forged key id read just before a rotation does not make the new
// key's values fail: an id above the highest version the ring holds by at
// most MaxSuccessorLead, and not yet found absent by a refresh that left
// the ring at its current revision. Any other id fails at once, so that a
// forged value does not hold its request (and the request's buffers) for
// the interval. Waiting callers that arrive while a flight waits or runs
// join it, up to their own ctx. It then returns the current ring and nil if
// the ring holds id, or the current ring (nil if none was ever loaded or it
// is stale) and an error: crypto.ErrUnknownKey when the refreshed ring
// still lacks id or no refresh was allowed, the load error, or ctx's error
// (also wrapping ErrRefreshLimited when ctx ended while the flight waited
// for the budget); while the ring is older than Options.MaxStale the error
// also wraps ErrStale.
func (c *Cache) RefreshForKey(ctx context.Context, id uint32) (*crypto.Keyring, error) {
	r := c.Keyring()
	if hasKey(r, id) {
		return r, nil
	}
	var err error
	limited := false
	if c.mayWait(r, id) {
		ch := c.flight.DoChan("on-demand", func() (any, error) {
			// The id of the caller that started this flight may have
			// arrived with a load that ended just before: no need to spend
			// the budget.
			if hasKey(c.Keyring(), id) {
				return nil, nil
			}
			// One flight at a time reserves the budget, so reservations
			// never queue beyond one MinRefreshInterval.
			if d := c.onDemand.Reserve().Delay(); d > 0 {
				c.budgetWait.Store(true)
				t := time.NewTimer(d)
				<-t.C
				c.budgetWait.Store(false)
				if hasKey(c.Keyring(), id) { // a periodic refresh brought it meanwhile
					return nil, nil
				}
			}
			return nil, c.check(context.WithoutCancel(ctx))
		})
		if c.joined != nil {
			c.joined()
		}
		select {
		case res := <-ch:
			err = res.Err
		case <-ctx.Done():
			err = ctx.Err()
			if c.budgetWait.Load() {
				err = fmt.Errorf("%w: %w", ErrRefreshLimited, err)
			}
		}
	} else if c.onDemand.Allow() {
		err = c.check(ctx)
	} else {
		limited = true
	}
	r = c.Keyring()
	stale := r == nil && c.stale.Load()
	result := UnknownKeyRefreshed
	switch {
	case hasKey(r, id):
		err = nil
	case errors.Is(err, ErrRefreshLimited):
		result = UnknownKeyRateLimited
		err = fmt.Errorf("refresh key ring for key v%d: %w", id, err)
	case err != nil:
		result = UnknownKeyError
		err = fmt.Errorf("refresh key ring for key v%d: %w", id, err)
	case stale:
		// The flight ended without error yet no ring may be served: a
		// stale check ran after it.
		result = UnknownKeyError
		err = fmt.Errorf("refresh key ring for key v%d: %w", id, ErrStale)
	case limited:
		result = UnknownKeyStillUnknown
		err = fmt.Errorf("refresh key ring for key v%d: not in revision %q, not a successor to wait for, and an on-demand refresh ran less than %s ago: %w",
			id, r.Revision(), c.opts.MinRefreshInterval, crypto.ErrUnknownKey)
	default:
		c.markAbsent(r, id)
		result = UnknownKeyStillUnknown
		err = fmt.Errorf("refresh key ring for key v%d: not in revision %q: %w", id, r.Revision(), crypto.ErrUnknownKey)
	}
	if stale && !errors.Is(err, ErrStale) {
		err = fmt.Errorf("%w (%w)", err, ErrStale)
	}
	c.opts.Observer.UnknownKey(result)
	return r, err
}

// MaxSuccessorLead is how far above the highest version a ring holds a key
// id may be for RefreshForKey to wait for the next allowed on-demand
// refresh: a sidecar that missed up to this many rotations between two of
// its refreshes still opens the new keys' values at once.
const MaxSuccessorLead = 4

// mayWait reports whether a caller for id, which r lacks, may wait for the
// on-demand refresh budget: with no ring (none loaded yet, or stale) any
// id; otherwise a plausible successor (MaxSuccessorLead) that no refresh
// found absent from r's revision.
func (c *Cache) mayWait(r *crypto.Keyring, id uint32) bool {
	if r == nil {
		return true
	}
	vs := r.Versions()
	if len(vs) == 0 {
		return true
	}
	highest := uint64(vs[len(vs)-1].ID)
	if uint64(id) <= highest || uint64(id) > highest+MaxSuccessorLead {
		return false
	}
	c.absentMu.Lock()
	defer c.absentMu.Unlock()
	_, absent := c.absent[id]
	return !absent || c.absentRev != r.Revision()
}

// markAbsent records that a refresh left the ring at r's revision without
// id, so that later callers for id do not wait while the ring stays there.
// Only plausible successors are recorded (at most MaxSuccessorLead ids per
// revision): no other id waits anyway.
func (c *Cache) markAbsent(r *crypto.Keyring, id uint32) {
	if r == nil || !c.mayWait(r, id) {
		return
	}
	c.absentMu.Lock()
	defer c.absentMu.Unlock()
	if c.absentRev != r.Revision() {
		c.absentRev, c.absent = r.Revision(), map[uint32]struct{}{}
	}
	c.absent[id] = struct{}{}
}

func hasKey(r *crypto.Keyring, id uint32) bool {
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

func (c *Cache) checkAndLoad(ctx context.Context, prev *crypto.Keyring) error {
	checkCtx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	changed, err := c.changer.Changed(checkCtx, prev)
	cancel()
	if err != nil {
		c.fail(fmt.Errorf("check key ring for changes: %w", err), 0, false)
		return err
	}
	if changed {
		return c.load(ctx)
	}
	now := c.succeed()
	c.opts.Observer.Refreshed(Refresh{Result: ResultUnchanged, Ring: prev, Time: now})
	return nil
}

// succeed records a load or a change check that found the ring current,
// and returns its time. A stale ring is served again from here on.
func (c *Cache) succeed() time.Time {
	now := c.opts.Now()
	c.mu.Lock()
	c.status.LastAttempt, c.status.LastSuccess = now, now
	c.status.LastError, c.status.ConsecutiveFailures = "", 0
	c.mu.Unlock()
	c.checkStale()
	return now
}

// checkStale compares the ring's age with Options.MaxStale, sets the stale
// flag and reports the check to the Observer; with no bound, or before the
// first load (the cache is not ready anyway), it does nothing.
func (c *Cache) checkStale() {
	if c.opts.MaxStale <= 0 {
		return
	}
	c.staleMu.Lock()
	defer c.staleMu.Unlock()
	c.mu.Lock()
	last, lastErr := c.status.LastSuccess, c.status.LastError
	c.mu.Unlock()
	if last.IsZero() {
		return
	}
	now := c.opts.Now()
	age := now.Sub(last)
	stale := age > c.opts.MaxStale
	was := c.stale.Swap(stale)
	s := Staleness{Stale: stale, Age: age, MaxStale: c.opts.MaxStale, LastError: lastErr, Time: now}
	switch {
	case stale && !was:
		s.Event = StaleRefused
	case !stale && was:
		s.Event = StaleRecovered
	case !stale && age > c.opts.MaxStale/2 && !c.warned:
		s.Event = StaleWarning
	}
	// One warning per spell: a spell ends when the ring is young again.
	c.warned = age > c.opts.MaxStale/2
	c.opts.Observer.Stale(s)
}

// staleCheckInterval is how often Run checks Options.MaxStale: a twentieth
// of the bound, at most Interval (at least 1ms).
func (c *Cache) staleCheckInterval() time.Duration {
	return max(min(c.opts.Interval, c.opts.MaxStale/20), time.Millisecond)
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
		err = crypto.ErrNoKey
	}
	if err == nil {
		// A ring read from the source replaces the one in service only
		// if it is a later state of it: a replayed older copy, a
		// re-created ring or a restore would bring back retired or
		// destroyed versions or give a version id a second key.
		err = crypto.CheckSuccessor(prev, next)
	}
	if err != nil {
		err = fmt.Errorf("load key ring: %w", err)
		c.fail(err, took, true)
		return err
	}
	c.ring.Store(next)
	c.mu.Lock()
	c.status.RingRefused = ""
	c.mu.Unlock()
	now := c.succeed()

	kind := ""
	switch {
	case prev == nil:
		kind = EventLoaded
	case prev.Primary() != next.Primary():
		kind = EventRotationSeen
	case prev.Revision() != next.Revision():
		kind = EventRefreshed
	}
	infos := next.Versions()
	versions := make([]uint32, 0, len(infos))
	for _, v := range infos {
		versions = append(versions, v.ID)
	}
	ev := KeyEvent{Kind: kind, Revision: next.Revision(), Primary: next.Primary(), Versions: versions, Duration: took}
	c.opts.Observer.Refreshed(Refresh{Result: ResultLoaded, Loaded: true, Event: ev, Ring: next, Time: now})
	// Same revision (kind ""): nothing an operator or auditor needs to see.
	if kind != "" {
		c.emit(ev)
	}
	return nil
}

// fail records a failed load (loaded: Source.Load ran for took) or change
// check; the ring in service stays.
func (c *Cache) fail(err error, took time.Duration, loaded bool) {
	now := c.opts.Now()
	c.mu.Lock()
	c.status.LastAttempt = now
	c.status.LastError = err.Error()
	c.status.ConsecutiveFailures++
	failures := c.status.ConsecutiveFailures
	var refused *crypto.ContinuityError
	reason := ""
	if errors.As(err, &refused) {
		reason = refused.Reason
		c.status.RingRefused = reason + ": " + refused.Detail
	}
	c.mu.Unlock()
	r := c.ring.Load()
	ev := KeyEvent{Kind: EventError, Revision: r.Revision(), Primary: r.Primary(), Err: err, Duration: took}
	c.opts.Observer.Refreshed(Refresh{Result: ResultError, Loaded: loaded, Event: ev, Ring: r, Failures: failures, Time: now, Refused: reason})
	c.emit(ev)
}

func (c *Cache) emit(ev KeyEvent) {
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(ev)
	}
}

// Run refreshes until ctx is done: at once if no ring is loaded yet, and
// on the cache's schedule: first after a random phase in [0, Interval),
// then every Interval (see Options.Interval). When the source is a Changer,
// a periodic refresh first asks Changed and loads only on true. After a
// failure it retries with exponential backoff from Interval/32 up to
// Interval (each wait ±10%), keeping the old ring in service, and goes back
// to its schedule after the next success. With Options.MaxStale it also
// checks the ring's age every min(Interval, MaxStale/20).
func (c *Cache) Run(ctx context.Context) {
	// next is the next scheduled refresh, on the time package's clock
	// (which a testing/synctest bubble fakes).
	next := time.Now().Add(c.phase())
	wait := time.Until(next)
	if c.ring.Load() == nil {
		wait = 0
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	var staleTick <-chan time.Time // nil: no bound, never ready
	if c.opts.MaxStale > 0 {
		tk := time.NewTicker(c.staleCheckInterval())
		defer tk.Stop()
		staleTick = tk.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-staleTick:
			c.checkStale()
			continue
		case <-t.C:
		}
		if err := c.check(ctx); err != nil && ctx.Err() == nil {
			t.Reset(jitter(c.backoff()))
			continue
		}
		t.Reset(c.nextWait(&next, time.Now()))
	}
}

// phase is the wait before the first periodic refresh: uniform in
// [0, Interval).
func (c *Cache) phase() time.Duration {
	return time.Duration(c.randN(int64(c.opts.Interval)))
}

// nextWait advances *next past now by whole intervals, keeping the cache's
// phase, and returns the wait until it. A refresh that ran late (a slow
// load, a backoff) is not made up for: the schedule skips to the next slot.
func (c *Cache) nextWait(next *time.Time, now time.Time) time.Duration {
	for !next.After(now) {
		*next = next.Add(c.opts.Interval)
	}
	return next.Sub(now)
}

// backoff is the wait after the current run of failures.
func (c *Cache) backoff() time.Duration {
	c.mu.Lock()
	n := c.status.ConsecutiveFailures
	c.mu.Unlock()
	return backoffAfter(c.opts.Interval, n)
}

// backoffAfter is the wait before the next attempt once failures refreshes
// (at least 1) failed in a row under a periodic interval: interval/32 (at
// least 1ms), doubled per further failure, capped at interval.
func backoffAfter(interval time.Duration, failures int) time.Duration {
	d := max(interval/32, time.Millisecond)
	for i := 1; i < failures && d < interval; i++ {
		d *= 2
	}
	return min(d, interval)
}

// jitter spreads a backoff wait d by ±10% so that sidecars that failed
// together do not retry together.
func jitter(d time.Duration) time.Duration {
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread+1))
}
