package keycache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// countingSource wraps a real localkeys provider and counts loads. When gate
// is set, Load waits for it to close, so a test can hold a load in flight.
// When began is set, Load first sends it its start time (by time.Now, the
// fake clock inside a synctest bubble), so a test can follow the schedule
// load by load.
type countingSource struct {
	inner *localkeys.Provider
	loads atomic.Int32
	gate  chan struct{}
	began chan time.Time
}

func (s *countingSource) Load(ctx context.Context, prev *crypto.Keyring) (*crypto.Keyring, error) {
	s.loads.Add(1)
	if s.began != nil {
		s.began <- time.Now()
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.inner.Load(ctx, prev)
}

// countingChanger adds the provider's Changer to countingSource.
type countingChanger struct {
	*countingSource
	checks atomic.Int32
}

func (s *countingChanger) Changed(ctx context.Context, prev *crypto.Keyring) (bool, error) {
	s.checks.Add(1)
	return s.inner.Changed(ctx, prev)
}

// eventLog records key events.
type eventLog struct {
	mu     sync.Mutex
	events []keycache.KeyEvent
}

func (l *eventLog) add(e keycache.KeyEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// count is the number of events of kind recorded so far.
func (l *eventLog) count(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var k []string
	for _, e := range l.events {
		k = append(k, e.Kind)
	}
	return k
}

// localRing makes a ring file under a temporary directory.
func localRing(t *testing.T) (path string, mk localkeys.MasterKey) {
	t.Helper()
	return sidecartest.LocalRing(t)
}

// monitor returns the process's Observer, its metrics in reg and its ring
// age by now (nil: time.Now).
func monitor(reg prometheus.Registerer, now func() time.Time) *keycache.Monitor {
	return keycache.NewMonitor(keycache.MonitorOptions{Registerer: reg, Now: now})
}

// runCache runs c.Run until the test ends; inside a synctest bubble it
// ends with the bubble's test.
func runCache(t *testing.T, c *keycache.Cache) { runUntilCleanup(t, c.Run) }

// runUntilCleanup runs run in a goroutine until the test ends, then cancels
// its context and waits for it to return.
func runUntilCleanup(t *testing.T, run func(context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}
