// Package periodic runs a piece of work at a fixed interval for as long as
// a context lasts: the loop behind the background checks that poll
// something (a key ring's rotation policy, a certificate file pair). Run
// owns the ticker and stops it when the context ends, so a caller's
// goroutine has one way to stop. Ticks that come while the work still runs
// are dropped (time.Ticker), so slow work is never run twice at once.
package periodic
