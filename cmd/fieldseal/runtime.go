package main

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/internal/periodic"
)

// defaultGCPercent is the GOGC serve runs with unless GOGC is set.
//
// About 2.5 MB of fieldseal's heap is live before the first request: data
// its dependencies (the AWS SDK's service schemas and endpoint tables, the
// Kubernetes API types, compiled regexps) build at package init. With Go's
// default GOGC=100 the heap goal is twice the live heap, 5 MB, so the
// collector runs after every 2.5 MB allocated and marks 2.5 MB each time.
// A small proxy whose live heap is 1 MB sits on the runtime's 4 MB floor
// instead and marks 1 MB per 3 MB allocated: for the same request garbage
// fieldseal paid about three times its mark work, the largest part of
// what a pass-through request cost over the plain ReverseProxy in the load
// benchmark. GOGC=200 gives the heap 5 MB of room (about 3 MB more RSS);
// the soft memory limit below keeps a pod near its memory limit from
// being OOM-killed by that room.
const defaultGCPercent = 200

// memoryLimitRatio is the share of the container's memory limit (cgroup)
// serve sets as the Go soft memory limit unless GOMEMLIMIT is set.
const memoryLimitRatio = 0.9

// tuneRuntime applies the GC settings above. GOGC and GOMEMLIMIT in the
// environment win, as for any Go program (AUTOMEMLIMIT=off turns the
// cgroup lookup off).
func tuneRuntime(log zerolog.Logger) {
	gogc := "GOGC from the environment"
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
		gogc = "fieldseal default"
	}
	limit, err := memlimit.Set(memlimit.WithRatio(memoryLimitRatio))
	ev := log.Info().Str("event", "runtime").Int("gogc", currentGCPercent()).Str("gogc_source", gogc)
	switch {
	case err != nil:
		// Not in a cgroup, or one without a readable limit: keep Go's
		// default (no limit), as without fieldseal's tuning.
		ev = ev.Str("memory_limit", "none").AnErr("memory_limit_error", err)
	case limit == math.MaxInt64:
		ev = ev.Str("memory_limit", "none")
	default:
		ev = ev.Int64("memory_limit_bytes", limit)
	}
	ev.Msg("garbage collector settings")
}

// currentGCPercent reads GOGC without changing it.
func currentGCPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return int(s[0].Value.Uint64())
}

// Idle memory release. Large bodies leave their buffers in the proxy's pools
// and the heap at its high-water mark; with no further allocation the
// collector does not run until the runtime's forced collection two minutes
// later, a pooled buffer survives two collections, and the scavenger hands
// free pages back gradually after that. A sidecar that handled a burst of
// 1 MB bodies therefore kept its peak RSS for minutes. releaseIdleMemory
// watches the heap: once the process is idle (little allocated since the
// last look) while the heap holds much more than it needs, it calls
// debug.FreeOSMemory (a collection that returns free pages at once). The
// second such call also frees the buffers the first moved to the pools'
// victim caches; it stops once a call no longer shrinks the heap, so a
// large live heap costs one extra collection per idle period, not one per
// tick.
const (
	// idleCheckInterval is how often the heap is looked at.
	idleCheckInterval = 20 * time.Second
	// idleAllocBytes: allocating less than this between two looks is idle.
	idleAllocBytes = 1 << 20
	// releaseAboveBytes: heap (objects and free pages not yet returned)
	// below this is left to the runtime.
	releaseAboveBytes = 24 << 20
)

// heapSample is what releaseIdleMemory reads from runtime/metrics.
type heapSample struct {
	allocs uint64 // cumulative bytes allocated (/gc/heap/allocs:bytes)
	held   uint64 // heap objects plus free pages not returned to the OS
}

func readHeap() heapSample {
	s := []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	metrics.Read(s)
	var v [3]uint64
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			v[i] = s[i].Value.Uint64()
		}
	}
	return heapSample{allocs: v[0], held: v[1] + v[2]}
}

// idleReleaser holds releaseIdleMemory's state between looks.
type idleReleaser struct {
	prev     heapSample
	releases int  // releases in this idle period
	done     bool // a release stopped shrinking the heap: wait for work
}

// step looks at the heap (cur) and calls release (a collection returning
// free pages, which reports the heap after it) when the process has been
// idle since the previous look and the heap holds more than
// releaseAboveBytes. It releases at least twice per idle period (the second
// time frees what the first moved to the pools' victim caches) and stops
// once a release shrinks the heap by less than a quarter. It reports
// whether it released.
func (r *idleReleaser) step(cur heapSample, release func() heapSample) bool {
	busy := cur.allocs-r.prev.allocs >= idleAllocBytes
	r.prev = cur
	switch {
	case busy:
		r.releases, r.done = 0, false
		return false
	case r.done || cur.held < releaseAboveBytes:
		return false
	}
	after := release()
	r.prev = after
	r.releases++
	if r.releases >= 2 && after.held > cur.held/4*3 {
		r.done = true
	}
	return true
}

// releaseIdleMemory runs until ctx ends; see idleReleaser.step.
func releaseIdleMemory(ctx context.Context, log zerolog.Logger) {
	r := idleReleaser{prev: readHeap()}
	periodic.Run(ctx, idleCheckInterval, func() {
		cur := readHeap()
		r.step(cur, func() heapSample {
			debug.FreeOSMemory()
			after := readHeap()
			log.Debug().Str("event", "idle_memory_released").Uint64("heap_before_bytes", cur.held).
				Uint64("heap_after_bytes", after.held).Msg("returned idle heap memory to the operating system")
			return after
		})
	})
}
