package main

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldseal/fieldseal/bench/load"
	"github.com/fieldseal/fieldseal/bench/measure"
)

type rssSample struct {
	at  time.Duration // since the soak's measured run started
	rss uint64
}

type soakResult struct {
	spec    caseSpec
	rate    float64
	samples []rssSample
	peak    uint64
	load    loadOutput
	keys    []counterDelta
	cpu     time.Duration
	err     error
}

// runSoak runs one case (-soak-case, default (d) POST) on a fresh process at a
// fixed rate for -soak and samples its RSS every -soak-every, to show memory
// is flat over time.
func (h *harness) runSoak(ctx context.Context, spec caseSpec) soakResult {
	res := soakResult{spec: spec, rate: h.opts.soakRate}
	addr, pid, metricsURL, stop, err := h.startTarget(ctx, spec)
	if err != nil {
		res.err = err
		return res
	}
	defer stop()
	if pid == 0 {
		res.err = fmt.Errorf("soak case %s has no proxy process to watch", spec.id)
		return res
	}
	url := "http://" + addr + spec.path
	if _, err := h.loadgen(ctx, spec, url, h.opts.warmup, res.rate); err != nil {
		res.err = fmt.Errorf("warm-up: %w", err)
		return res
	}
	before, err := measure.Scrape(ctx, h.client, metricsURL)
	if err != nil {
		res.err = err
		return res
	}
	cpu0, err := measure.CPUTime(pid)
	if err != nil {
		res.err = err
		return res
	}

	type done struct {
		out loadOutput
		err error
	}
	finished := make(chan done, 1)
	go func() {
		out, err := h.loadgen(ctx, spec, url, h.opts.soak, res.rate)
		finished <- done{out, err}
	}()
	start := time.Now()
	sample := func() {
		m, err := measure.ReadMemory(pid)
		if err != nil {
			return
		}
		at := time.Since(start).Round(time.Second)
		if n := len(res.samples); n > 0 && res.samples[n-1].at == at {
			res.samples = res.samples[:n-1] // the run ended on a tick: keep one sample
		}
		res.samples = append(res.samples, rssSample{at: at, rss: m.RSS})
		res.peak = m.Peak
	}
	sample()
	tick := time.NewTicker(h.opts.soakEvery)
	defer tick.Stop()
	var d done
wait:
	for {
		select {
		case <-tick.C:
			sample()
			last := res.samples[len(res.samples)-1]
			step(fmt.Sprintf("  soak %v: RSS %s MB", last.at, mb(last.rss)))
		case d = <-finished:
			break wait
		}
	}
	sample()
	if d.err != nil {
		res.err = d.err
		return res
	}
	res.load = d.out
	res.err = load.Check(d.out.Result)
	cpu1, err := measure.CPUTime(pid)
	if err == nil {
		res.cpu = cpu1 - cpu0
	}
	after, err := measure.Scrape(ctx, h.client, metricsURL)
	if err != nil && res.err == nil {
		res.err = err
	}
	res.keys = keyDeltas(before, after)
	return res
}
