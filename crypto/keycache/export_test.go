package keycache

import "time"

// OnJoin makes every Refresh call f once it shares (or started) the
// in-flight load, so a test can release the load only after all callers
// joined it.
func OnJoin(c *Cache, f func()) { c.joined = f }

// SetPhase fixes the phase of c's periodic refreshes (before Run).
func SetPhase(c *Cache, phase time.Duration) { c.randN = func(int64) int64 { return int64(phase) } }

// Phase draws c's phase as Run does.
func Phase(c *Cache) time.Duration { return c.phase() }
