// Package keycache shares one key ring with every request: the key cache of
// fieldseal's design. A Cache serves the ring a crypto.Source loads through
// an atomic pointer (lock-free reads on the hot path), lets one load run at
// a time however many callers ask (no thundering herd on KMS), refreshes
// periodically at a random phase of its own (asking a crypto.Changer first
// when the source is one), backs off exponentially on failure while it keeps serving
// the ring it has, and fetches a key the ring lacks on demand, rate
// limited because key ids come from stored, possibly forged, values. With
// Options.MaxStale it stops serving a ring that has not refreshed for that
// long (a deleted secret, a disabled CMK): Keyring returns nil and Status
// is not ready until a refresh succeeds; the hot path reads one more
// atomic flag.
//
// A Rotator beside the cache rotates the ring when its primary passes a
// RotationPolicy (an age, a number of seals by this process) through the
// provider's conditional rotation, or only reports it due when the process
// may not write the ring.
//
// The cache itself neither logs nor measures: it reports every refresh and
// on-demand lookup to an Observer, and every key event (first load, new
// revision, rotation seen, error) to Options.OnEvent for the audit trail.
// Monitor is the Observer a process wires in: zerolog lines and the
// fieldseal_keys_* Prometheus metrics. Key material never reaches the
// observer, events, logs, metrics or error text.
//
// Run's timers and load durations come from the time package and status
// times from Options.Now, so tests drive periodic refresh and backoff in a
// testing/synctest bubble.
//
// Typical use:
//
//	cache := keycache.New(provider, keycache.Options{
//		Observer: keycache.NewMonitor(keycache.MonitorOptions{Logger: log, Registerer: reg}),
//	})
//	if err := cache.Refresh(ctx); err != nil { ... }   // first load
//	go cache.Run(ctx)
//	ring := cache.Keyring()                              // per request
package keycache
