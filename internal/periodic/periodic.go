package periodic

import (
	"context"
	"time"
)

// Run calls fn every interval (which must be positive; time.NewTicker
// panics otherwise), the first time one interval after the call, until ctx
// is done, then returns. It never calls fn after it returns; a call under
// way when ctx ends runs to its end first. It runs fn on the caller's
// goroutine.
func Run(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
