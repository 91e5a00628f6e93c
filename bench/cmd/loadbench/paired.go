package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fieldseal/fieldseal/bench/load"
	"github.com/fieldseal/fieldseal/bench/measure"
)

// Paired rounds measure the ratios against (b) on a machine whose
// speed drifts: on this two-core VM the same plain proxy measured anywhere
// from 18,600 to 23,300 req/s in successive 5 s runs, more than the 3% and
// 10% margins the targets allow. The drift is slow next to a run, so runs
// close in time share it. A paired measurement keeps one plain proxy and
// one fieldseal running, alternates short runs of (b) and the fieldseal
// cases, rotating their order each round, and divides each fieldseal run by
// the (b) run of the same round: the median of those per-round ratios is
// the ratio, and its spread is shown.

// pairedRun is one short run within a round.
type pairedRun struct {
	spec caseSpec
	load load.Result
	cpu  float64 // proxy CPU us per request
	err  error
}

// pairedSet is every round of one workload at one rate (0: closed loop).
type pairedSet struct {
	wl     workloadKind
	rate   float64
	specs  []caseSpec    // (b) first
	rounds [][]pairedRun // rounds[i][j] is specs[j] in round i
	err    error         // the set could not run (a process did not start)
}

// runPaired runs the paired rounds of one workload: specs holds its (b)
// case and the fieldseal cases, which share one fieldseal process (they
// differ only by path).
func (h *harness) runPaired(ctx context.Context, specs []caseSpec, rate float64) pairedSet {
	set := pairedSet{wl: specs[0].wl, rate: rate, specs: specs}
	type running struct {
		addr string
		pid  int
	}
	procs := map[target]running{} // (b) has one process, the fieldseal cases share one
	for _, spec := range specs {
		if _, ok := procs[spec.target]; ok {
			continue
		}
		addr, pid, _, stop, err := h.startTarget(ctx, spec)
		if err != nil {
			set.err = err
			return set
		}
		defer stop()
		procs[spec.target] = running{addr, pid}
	}
	url := func(spec caseSpec) string { return "http://" + procs[spec.target].addr + spec.path }
	for _, spec := range specs {
		if _, err := h.loadgen(ctx, spec, url(spec), h.opts.warmup, rate); err != nil {
			set.err = fmt.Errorf("warm-up %s: %w", spec.id, err)
			return set
		}
	}
	for i := 0; i < h.opts.rounds; i++ {
		round := make([]pairedRun, len(specs))
		for k := range specs {
			j := (i + k) % len(specs) // rotate, so no case always runs first
			spec := specs[j]
			pid := procs[spec.target].pid
			r := pairedRun{spec: spec}
			before, err := measure.CPUTime(pid)
			if err == nil {
				var out loadOutput
				out, err = h.loadgen(ctx, spec, url(spec), h.opts.roundDuration, rate)
				r.load = out.Result
				if err == nil {
					err = load.Check(out.Result)
				}
			}
			after, cerr := measure.CPUTime(pid)
			if err == nil && cerr != nil {
				err = cerr
			}
			if err == nil && r.load.Requests > 0 {
				r.cpu = float64((after - before).Microseconds()) / float64(r.load.Requests)
			}
			r.err = err
			round[j] = r
			if ctx.Err() != nil {
				set.err = ctx.Err()
				return set
			}
		}
		set.rounds = append(set.rounds, round)
	}
	return set
}

// pairedStat summarises one case over the rounds.
type pairedStat struct {
	spec                 caseSpec
	rps, cpu             float64       // medians
	p99                  time.Duration // median
	ratio, lo, hi        float64       // per-round req/s over (b)'s: median, min, max
	cpuAdded             float64       // per-round CPU us/req minus (b)'s: median
	p99Added, p99AddedLo time.Duration // per-round p99 minus (b)'s: median, min
	p99AddedHi           time.Duration // max
	rounds               int           // rounds where both this case and (b) succeeded
	behind               int           // fixed rate: runs that did not keep the schedule
	err                  error
}

// stats computes every case's summary; (b) is stats[0].
func (s pairedSet) stats() []pairedStat {
	out := make([]pairedStat, len(s.specs))
	for j, spec := range s.specs {
		st := pairedStat{spec: spec}
		var rps, cpu, ratio, cpuAdded []float64
		var p99, p99Added []float64
		for _, round := range s.rounds {
			x, b := round[j], round[0]
			if x.err != nil {
				st.err = x.err
				continue
			}
			rps, cpu, p99 = append(rps, x.load.RPS), append(cpu, x.cpu), append(p99, float64(x.load.P99))
			if s.rate > 0 && (x.load.Missed > 0 || x.load.RPS < 0.97*s.rate) {
				st.behind++
			}
			if b.err != nil || b.load.RPS == 0 {
				continue
			}
			st.rounds++
			ratio = append(ratio, x.load.RPS/b.load.RPS)
			cpuAdded = append(cpuAdded, x.cpu-b.cpu)
			p99Added = append(p99Added, float64(x.load.P99-b.load.P99))
		}
		st.rps, st.cpu, st.p99 = medianOf(rps), medianOf(cpu), time.Duration(medianOf(p99))
		if len(ratio) > 0 {
			st.ratio, st.lo, st.hi = medianOf(ratio), slices.Min(ratio), slices.Max(ratio)
			st.cpuAdded = medianOf(cpuAdded)
			st.p99Added = time.Duration(medianOf(p99Added))
			st.p99AddedLo, st.p99AddedHi = time.Duration(slices.Min(p99Added)), time.Duration(slices.Max(p99Added))
		}
		out[j] = st
	}
	return out
}

// find returns the summary of the case with letter in the workload's set at
// rate (0: closed loop), or nil.
func findPaired(sets []pairedSet, wl workloadKind, letter string, rate bool) *pairedStat {
	for _, s := range sets {
		if s.wl != wl || (s.rate > 0) != rate || s.err != nil {
			continue
		}
		for _, st := range s.stats() {
			if st.spec.letter == letter && st.rounds > 0 {
				return &st
			}
		}
	}
	return nil
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// pairedGroups splits the selected cases into the paired sets: per
// workload, its (b) case and its fieldseal cases.
func pairedGroups(specs []caseSpec) [][]caseSpec {
	var groups [][]caseSpec
	for _, wl := range []workloadKind{wlPost, wlGet, wlList} {
		var base *caseSpec
		var rest []caseSpec
		for _, s := range specs {
			switch {
			case s.wl != wl:
			case s.target == plain:
				base = &s
			case s.target == fieldseal:
				rest = append(rest, s)
			}
		}
		if base != nil && len(rest) > 0 {
			groups = append(groups, append([]caseSpec{*base}, rest...))
		}
	}
	return groups
}
