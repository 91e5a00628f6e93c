package main

import "testing"

// The idle releaser returns memory only while nothing is allocated, at
// least twice per idle period (the pools' victim caches), and stops once a
// release no longer shrinks the heap, until work starts again.
func TestIdleReleaserReleasesTwiceThenStopsUntilBusy(t *testing.T) {
	const mb = 1 << 20
	r := idleReleaser{prev: heapSample{allocs: 0, held: 80 * mb}}
	heap := uint64(80 * mb)
	calls := 0
	// Each release halves the heap the first time, then frees nothing.
	release := func() heapSample {
		calls++
		if calls == 1 {
			heap = 40 * mb
		}
		return heapSample{allocs: 100 * mb, held: heap}
	}

	if r.step(heapSample{allocs: 100 * mb, held: 80 * mb}, release) {
		t.Fatal("released while 100 MB were allocated since the last look")
	}
	for i, want := range []bool{true, true, false, false} {
		if got := r.step(heapSample{allocs: 100 * mb, held: heap}, release); got != want {
			t.Fatalf("idle look %d: released = %v, want %v", i+1, got, want)
		}
	}
	if calls != 2 {
		t.Fatalf("%d releases in one idle period, want 2", calls)
	}

	// Work again, then idle with a heap below the threshold: nothing to do.
	r.step(heapSample{allocs: 200 * mb, held: 10 * mb}, release)
	if r.step(heapSample{allocs: 200 * mb, held: 10 * mb}, release) {
		t.Fatal("released a 10 MB heap")
	}
	// Idle with a large heap after work: releases again.
	r.step(heapSample{allocs: 300 * mb, held: 60 * mb}, release)
	if !r.step(heapSample{allocs: 300 * mb, held: 60 * mb}, release) {
		t.Fatal("no release in a new idle period")
	}
}
