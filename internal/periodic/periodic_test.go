package periodic_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fieldseal/fieldseal/internal/periodic"
)

func TestRunCallsOncePerIntervalUntilTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		var at []time.Duration
		done := make(chan struct{})
		go func() {
			periodic.Run(ctx, time.Minute, func() { at = append(at, time.Since(start)) })
			close(done)
		}()
		time.Sleep(3*time.Minute + 30*time.Second)
		synctest.Wait()
		if want := []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}; !slices.Equal(at, want) {
			t.Fatalf("calls at %v, want %v", at, want)
		}
		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Run did not return once its context ended")
		}
		time.Sleep(5 * time.Minute)
		if len(at) != 3 {
			t.Errorf("%d calls after the context ended, want none", len(at)-3)
		}
	})
}

func TestRunReturnsAtOnceForAnEndedContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		calls := 0
		periodic.Run(ctx, time.Second, func() { calls++ })
		if calls != 0 {
			t.Errorf("%d calls with an ended context, want 0", calls)
		}
	})
}
