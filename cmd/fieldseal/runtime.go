package main

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/rs/zerolog"
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
