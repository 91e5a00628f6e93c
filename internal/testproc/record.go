package testproc

import (
	"fmt"
	"runtime"
	"testing"
)

// Recorded is what a test helper did to the testing.TB that Record gave
// it: why it failed the test (Fatal, Fatalf) or skipped it (Skip, Skipf),
// every Errorf, and what it panicked with instead.
type Recorded struct {
	Fatal, Skip string
	Errors      []string
	Panicked    any
}

// recorder is a testing.TB whose Fatal and Skip end only the goroutine
// that calls them, and whose Errorf is only noted.
type recorder struct {
	testing.TB
	r *Recorded
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(args ...any) {
	r.r.Fatal = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.r.Fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) {
	r.r.Skip = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.r.Skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Errorf(format string, args ...any) {
	r.r.Errors = append(r.r.Errors, fmt.Sprintf(format, args...))
}

// Record calls f on its own goroutine with a testing.TB that records how
// f fails, skips or panics instead of doing it to t, and returns the record
// once f returned or ended its goroutine. It is how a test checks that a
// test helper fails the test it is given (and says why). Methods other
// than Fatal, Fatalf, Skip, Skipf, Errorf and Helper go to t.
func Record(t testing.TB, f func(tb testing.TB)) *Recorded {
	rec := &Recorded{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { rec.Panicked = recover() }()
		f(&recorder{TB: t, r: rec})
	}()
	<-done
	return rec
}
