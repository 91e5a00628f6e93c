package keycache

// OnJoin makes every Refresh call f once it shares (or started) the
// in-flight load, so a test can release the load only after all callers
// joined it.
func OnJoin(c *Cache, f func()) { c.joined = f }
