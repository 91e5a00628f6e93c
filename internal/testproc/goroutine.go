package testproc

import (
	"context"
	"testing"
	"time"
)

// stopTimeout bounds how long Go waits for its function after cancelling
// it: a server drains its connections first.
const stopTimeout = 30 * time.Second

// Go runs fn (a server's Run or a command's serve) on a goroutine with a
// context that is cancelled when the test ends; then it waits, at most
// 30 s, for fn to return, and fails the test if fn returned an error or did
// not return: a clean shutdown is part of what the test checks.
func Go(t testing.TB, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("returned %v after cancel, want nil", err)
			}
		case <-time.After(stopTimeout):
			t.Errorf("did not return within %s of cancel", stopTimeout)
		}
	})
}
