package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

type machine struct {
	nproc              int
	cpu, kernel, goVer string
	memory             string
	commit             string
	loadBefore         string
	loadAfter          string
}

func describeMachine(ctx context.Context, root string) machine {
	m := machine{nproc: runtime.NumCPU(), goVer: runtime.Version(), loadBefore: loadAverage()}
	m.cpu = firstField("/proc/cpuinfo", "model name")
	m.memory = firstField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	cmd := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
	}
	return m
}

func firstField(file, key string) string {
	f, err := os.Open(file)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

type report struct {
	opts    options
	command string
	started time.Time
	machine machine
	closed  []result
	fixed   []result
	paired  []pairedSet
	soak    *soakResult
	notes   []string
}

// find returns the run of the given workload and case letter, closed loop if
// rate is 0, else the fixed-rate one.
func (r *report) find(wl, letter string, rate float64) *result {
	runs := r.closed
	if rate != 0 {
		runs = r.fixed
	}
	for i := range runs {
		if string(runs[i].spec.wl) == wl && runs[i].spec.letter == letter {
			return &runs[i]
		}
	}
	return nil
}

func (r *report) measuredFieldseal() bool {
	for _, runs := range [][]result{r.closed, r.fixed} {
		for _, x := range runs {
			if x.spec.target == fieldseal {
				return true
			}
		}
	}
	return false
}

func (r *report) failures() int {
	n := 0
	for _, runs := range [][]result{r.closed, r.fixed} {
		for _, x := range runs {
			if x.err != nil {
				n++
			}
		}
	}
	if r.soak != nil && r.soak.err != nil {
		n++
	}
	return n
}

func (r *report) markdown() string {
	var b strings.Builder
	m := r.machine
	fmt.Fprintf(&b, "# fieldseal load benchmark\n\n")
	fmt.Fprintf(&b, "Run %s, %s of wall time. Command, from the module root:\n\n    %s\n\n",
		r.started.Format("2006-01-02 15:04 MST"), time.Since(r.started).Round(time.Second), r.command)
	fmt.Fprintf(&b, "| machine | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| CPU | %d x %s (nproc %d) |\n| memory | %s |\n| kernel | %s |\n| Go | %s |\n| commit | %s |\n| load average before / after | %s / %s |\n\n",
		m.nproc, m.cpu, m.nproc, m.memory, m.kernel, m.goVer, m.commit, m.loadBefore, m.loadAfter)
	fmt.Fprintf(&b, "Every process (upstream, proxy, load generator) shares the same %d cores on 127.0.0.1. "+
		"Load: bench/cmd/loadgen, %d keep-alive HTTP/1.1 connections, one OS thread (GOMAXPROCS=1); "+
		"each case on a fresh proxy process, %v warm-up, then %v measured. "+
		"CPU and peak RSS are the proxy process's (/proc/PID/stat utime+stime, /proc/PID/status VmHWM); "+
		"allocations are its go_memstats_mallocs_total delta from /metrics; fields/req is fieldseal's fieldseal_proxy_fields_total delta (values sealed or opened). Latency is request written to response read.\n\n",
		m.nproc, r.opts.conns, r.opts.warmup, r.opts.duration)

	b.WriteString("## Maximum throughput (closed loop)\n\n")
	writeRuns(&b, r.closed)
	writeRepeats(&b, r.closed, "req/s", func(v float64) string { return fmt.Sprintf("%.0f", v) })

	var ratios []string
	ratio := func(label string, wl workloadKind, letter, target string) {
		if p := findPaired(r.paired, wl, letter, false); p != nil {
			ratios = append(ratios, fmt.Sprintf("| %s | %.3f (%.3f-%.3f, %d paired rounds) | %s |\n", label, p.ratio, p.lo, p.hi, p.rounds, target))
			return
		}
		x, base := r.find(string(wl), letter, 0), r.find(string(wl), "(b)", 0)
		if ok(x) && ok(base) {
			ratios = append(ratios, fmt.Sprintf("| %s | %.3f (single runs) | %s |\n", label, x.load.RPS/base.load.RPS, target))
		}
	}
	ratio("(d)/(b) req/s, POST 1 KB (seal 5, open 5)", wlPost, "(d)", ">= 0.90")
	ratio("(d)/(b) req/s, GET 1 KB (open 5)", wlGet, "(d)", ">= 0.90")
	ratio("(c)/(b) req/s, POST 1 KB (no protected fields)", wlPost, "(c)", ">= 0.97")
	ratio("(c)/(b) req/s, GET 1 KB (no protected fields)", wlGet, "(c)", ">= 0.97")
	ratio("(e)/(b) req/s, GET 20 KB list (open 200)", wlList, "(e)", "-")
	for _, wl := range []workloadKind{wlPost, wlGet} {
		if p := findPaired(r.paired, wl, "(d)", false); p != nil {
			b := findPaired(r.paired, wl, "(b)", false)
			ratios = append(ratios, fmt.Sprintf("| (d) proxy CPU per request, %s | %.1f us ((b): %.1f us; added per round: %+.1f us) | <= 40 us |\n", wl, p.cpu, b.cpu, p.cpuAdded))
		} else if d := r.find(string(wl), "(d)", 0); ok(d) {
			ratios = append(ratios, fmt.Sprintf("| (d) proxy CPU per request, %s | %.1f us (single run) | <= 40 us |\n", wl, d.perRequest(d.proxyCPU)))
		}
	}
	for _, wl := range []workloadKind{wlPost, wlGet} {
		if p := findPaired(r.paired, wl, "(d)", true); p != nil {
			note := ""
			if p.behind > 0 {
				note = fmt.Sprintf("; %d runs fell behind the rate", p.behind)
			}
			ratios = append(ratios, fmt.Sprintf("| p99 added by (d) over (b), %s, at %.0f%% of (b)'s maximum | %s (%s to %s, %d paired rounds%s) | < 1 ms |\n",
				wl, r.opts.rateFraction*100, ms(p.p99Added), ms(p.p99AddedLo), ms(p.p99AddedHi), p.rounds, note))
		}
	}
	if len(ratios) > 0 {
		b.WriteString("\n## Targets: ratios against (b), the plain ReverseProxy\n\n")
		if len(r.paired) > 0 {
			b.WriteString("From the paired rounds below where they ran: the median of per-round ratios, with their range.\n\n")
		}
		b.WriteString("| comparison | value | target (issue 6) |\n| --- | --- | --- |\n")
		b.WriteString(strings.Join(ratios, ""))
	}
	writePaired(&b, r.paired, r.opts)

	if len(r.fixed) > 0 {
		fmt.Fprintf(&b, "\n## Latency at %.0f%% of (b)'s maximum (open loop, fixed rate)\n\n", r.opts.rateFraction*100)
		b.WriteString("Latency is measured from each request's scheduled send time, so queueing behind a stall counts (no coordinated omission).\n\n")
		writeRuns(&b, r.fixed)
		writeRepeats(&b, r.fixed, "p99", func(v float64) string { return ms(time.Duration(v)) })
		b.WriteString("\n| p99 added over (b) at the same rate | p99 (b) | p99 | added | target |\n| --- | ---: | ---: | ---: | --- |\n")
		for _, x := range r.fixed {
			base := r.find(string(x.spec.wl), "(b)", x.rate)
			if x.spec.letter == "(b)" || !ok(&x) || !ok(base) {
				continue
			}
			target := "-"
			if x.spec.letter == "(d)" {
				target = "< 1 ms"
			}
			for _, y := range []*result{base, &x} {
				if !sustained(y) {
					target += fmt.Sprintf(" (not comparable: %s did only %.0f of %.0f req/s)", y.spec.letter, y.load.RPS, y.rate)
				}
			}
			fmt.Fprintf(&b, "| %s %s, %.0f req/s | %s | %s | %s | %s |\n", x.spec.letter, x.spec.wl, x.rate,
				ms(base.load.P99), ms(x.load.P99), ms(x.load.P99-base.load.P99), target)
		}
	}

	var keyRows []string
	for _, runs := range [][]result{r.closed, r.fixed} {
		for _, x := range runs {
			for _, k := range x.keys {
				keyRows = append(keyRows, fmt.Sprintf("| %s | `%s` | %g | %g | %g | %.6f |\n", runLabel(x), k.series, k.before, k.after,
					k.after-k.before, (k.after-k.before)/math.Max(1, float64(x.load.Requests))))
			}
		}
	}
	if r.measuredFieldseal() {
		b.WriteString("\n## Key provider calls (fieldseal /metrics, before and after each measured run)\n\n")
		b.WriteString("A key cache hit costs no provider call, so these counters must not grow with the request count; a periodic refresh (every `refresh_interval`) may show as 1.\n\n")
		b.WriteString("| run | series | before | after | delta | per request |\n| --- | --- | ---: | ---: | ---: | ---: |\n")
		if len(keyRows) == 0 {
			keyRows = append(keyRows, "| - | no fieldseal_keys_/kms/secretsmanager counters found on /metrics | | | | |\n")
		}
		b.WriteString(strings.Join(keyRows, ""))
	}

	if s := r.soak; s != nil {
		fmt.Fprintf(&b, "\n## Soak: %s %s (%s) at %.0f req/s for %v\n\n", s.spec.letter, s.spec.wl, s.spec.what, s.rate, r.opts.soak)
		if s.err != nil {
			fmt.Fprintf(&b, "**Failed:** %v\n\n", s.err)
		}
		fmt.Fprintf(&b, "%d requests, %.0f req/s achieved, p50 %s, p99 %s, p99.9 %s, proxy CPU %.1f us/req, peak RSS %s MB.\n\n",
			s.load.Requests, s.load.RPS, ms(s.load.P50), ms(s.load.P99), ms(s.load.P999),
			float64(s.cpu.Microseconds())/math.Max(1, float64(s.load.Requests)), mb(s.peak))
		b.WriteString("| time | RSS MB |\n| ---: | ---: |\n")
		for _, x := range s.samples {
			fmt.Fprintf(&b, "| %v | %s |\n", x.at, mb(x.rss))
		}
		if n := len(s.samples); n >= 2 {
			growth := float64(s.samples[n-1].rss) - float64(s.samples[0].rss)
			fmt.Fprintf(&b, "\nRSS change from the first to the last sample: %+.1f MB.\n", growth/(1<<20))
		}
		for _, k := range s.keys {
			fmt.Fprintf(&b, "\n`%s`: %g -> %g during the soak.", k.series, k.before, k.after)
		}
		b.WriteString("\n")
	}

	if len(r.notes) > 0 || r.failures() > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		for _, runs := range [][]result{r.closed, r.fixed} {
			for _, x := range runs {
				if x.err != nil {
					fmt.Fprintf(&b, "- %s failed: %v\n", runLabel(x), x.err)
				}
			}
		}
	}
	return b.String()
}

// writePaired lists every paired set: per case the medians over the rounds
// and the per-round comparison with the (b) run of the same round.
func writePaired(b *strings.Builder, sets []pairedSet, o options) {
	if len(sets) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Paired rounds\n\n"+
		"The machine's speed drifts by more than the targets' margins between runs, so the ratios come from paired rounds: "+
		"one plain proxy and one fieldseal process stay up (fresh for each set), and each round runs (b) and every fieldseal case "+
		"for %v each, in an order rotated every round; each fieldseal run is compared with the (b) run of its own round.\n\n", o.roundDuration)
	for _, s := range sets {
		mode := "closed loop"
		if s.rate > 0 {
			mode = fmt.Sprintf("fixed rate %.0f req/s", s.rate)
		}
		fmt.Fprintf(b, "### %s, %s, %d rounds\n\n", s.wl, mode, len(s.rounds))
		if s.err != nil {
			fmt.Fprintf(b, "**Failed:** %v\n\n", s.err)
			continue
		}
		b.WriteString("| case | target | req/s | proxy CPU us/req | p99 | req/s / (b) per round: median (min-max) | CPU added over (b) | p99 added over (b): median (min to max) | errors |\n")
		b.WriteString("| --- | --- | ---: | ---: | ---: | --- | ---: | --- | --- |\n")
		for _, st := range s.stats() {
			cmp, cpu, p99 := "-", "-", "-"
			if st.spec.letter != "(b)" && st.rounds > 0 {
				cmp = fmt.Sprintf("%.3f (%.3f-%.3f)", st.ratio, st.lo, st.hi)
				cpu = fmt.Sprintf("%+.1f us", st.cpuAdded)
				p99 = fmt.Sprintf("%s (%s to %s)", ms(st.p99Added), ms(st.p99AddedLo), ms(st.p99AddedHi))
			}
			errs := "0"
			if st.err != nil {
				errs = st.err.Error()
			}
			if st.behind > 0 {
				errs += fmt.Sprintf("; %d of %d runs fell behind the rate (overloaded: their latency is a queue's)", st.behind, len(s.rounds))
			}
			fmt.Fprintf(b, "| %s | %s | %.0f | %.1f | %s | %s | %s | %s | %s |\n", st.spec.letter, st.spec.what, st.rps, st.cpu, ms(st.p99), cmp, cpu, p99, errs)
		}
		b.WriteString("\n")
	}
}

func writeRuns(b *strings.Builder, runs []result) {
	b.WriteString("| case | workload | target | req/s | p50 | p99 | p99.9 | proxy CPU us/req | proxy allocs/req | proxy peak RSS MB | fields/req | upstream CPU us/req | loadgen CPU us/req | errors |\n")
	b.WriteString("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, x := range runs {
		if x.load.Requests == 0 && x.err != nil {
			fmt.Fprintf(b, "| %s | %s | %s | failed | | | | | | | | | | |\n", runName(x), x.spec.wl, x.spec.what)
			continue
		}
		proxyCPU, allocs, rss, fields := "-", "-", "-", "-"
		if x.spec.target != direct {
			proxyCPU = fmt.Sprintf("%.1f", x.perRequest(x.proxyCPU))
			rss = mb(x.peakRSS)
			if x.allocsKnown {
				allocs = fmt.Sprintf("%.1f", x.allocs/float64(x.load.Requests))
			} else {
				allocs = "n/a"
			}
		}
		if x.fieldsKnown {
			fields = fmt.Sprintf("%.0f", x.fields/float64(x.load.Requests))
		}
		errs := fmt.Sprint(x.load.Errors)
		if x.load.Missed > 0 {
			errs += fmt.Sprintf(" (+%d missed)", x.load.Missed)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %.1f | %.1f | %s |\n",
			runName(x), x.spec.wl, x.spec.what, x.load.RPS, ms(x.load.P50), ms(x.load.P99), ms(x.load.P999),
			proxyCPU, allocs, rss, fields, x.perRequest(x.upstreamCPU), x.perRequest(x.load.CPU), errs)
	}
}

// writeRepeats lists every repetition's value when -repeat ran cases more
// than once, so the spread behind each median is visible.
func writeRepeats(b *strings.Builder, runs []result, what string, format func(float64) string) {
	var lines []string
	for _, x := range runs {
		if len(x.repeats) < 2 {
			continue
		}
		vals := make([]string, len(x.repeats))
		for i, v := range x.repeats {
			vals[i] = format(v)
		}
		lines = append(lines, fmt.Sprintf("- %s: %s\n", runLabel(x), strings.Join(vals, ", ")))
	}
	if len(lines) > 0 {
		fmt.Fprintf(b, "\nEach row is the median of its repetitions by %s; every repetition's %s, in run order:\n\n%s", what, what, strings.Join(lines, ""))
	}
}

func runName(x result) string {
	if x.rate > 0 {
		return fmt.Sprintf("%s @ %.0f/s", x.spec.letter, x.rate)
	}
	return x.spec.letter
}

// sustained says whether an open-loop run kept its schedule; if it did not,
// its latencies measure an overload queue, not the proxy.
func sustained(x *result) bool {
	return x.load.Missed == 0 && x.load.RPS >= 0.97*x.rate
}

// runLabel names a run outside a table that has a workload column.
func runLabel(x result) string { return runName(x) + " " + string(x.spec.wl) }

func ok(x *result) bool { return x != nil && x.err == nil && x.load.Requests > 0 }

// ms formats a latency in milliseconds with microsecond precision.
func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

func mb(n uint64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }
