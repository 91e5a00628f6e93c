package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/bench/load"
	"github.com/fieldseal/fieldseal/bench/measure"
)

func spec(id string) caseSpec {
	c, ok := caseByID(id)
	if !ok {
		panic("no case " + id)
	}
	return c
}

func fakeRun(id string, rps float64, p99 time.Duration, rate float64) result {
	return result{
		spec: spec(id), rate: rate,
		load:     loadOutput{Result: load.Result{Requests: 10000, RPS: rps, P50: p99 / 4, P99: p99, P999: 2 * p99}},
		proxyCPU: 300 * time.Millisecond, // 30 us per request
	}
}

func TestReportMarkdown(t *testing.T) {
	rep := &report{
		opts:    options{duration: 10 * time.Second, warmup: 2 * time.Second, conns: 32, rateFraction: 0.5},
		command: "go run ./bench/cmd/loadbench -duration 10s",
		started: time.Now(),
		closed: []result{
			fakeRun("b-post", 20000, 2*time.Millisecond, 0),
			fakeRun("c-post", 19600, 2*time.Millisecond, 0),
			fakeRun("d-post", 18000, 3*time.Millisecond, 0),
		},
		fixed: []result{
			fakeRun("b-post", 10000, 1*time.Millisecond, 10000),
			fakeRun("d-post", 10000, 1500*time.Microsecond, 10000),
		},
	}
	rep.closed[2].keys = []counterDelta{{series: `fieldseal_keys_refresh_total{result="loaded"}`, before: 1, after: 1}}
	rep.closed[2].fields, rep.closed[3-1].fieldsKnown = 100000, true // 10 per request
	md := rep.markdown()
	wantInReport(t, md,
		"| 30.0 | n/a | 0.0 | 10 | 0.0 | 0.0 | 0 |", // d-post: CPU, allocs (none scraped), RSS, fields/req, ...
		"    go run ./bench/cmd/loadbench -duration 10s\n",
		"| (d)/(b) req/s, POST 1 KB (seal 5, open 5) | 0.900 (single runs) | >= 0.90 |",
		"| (c)/(b) req/s, POST 1 KB (no protected fields) | 0.980 (single runs) | >= 0.97 |",
		"| (d) proxy CPU per request, POST 1 KB | 30.0 us (single run) | <= 40 us |",
		"| (d) POST 1 KB, 10000 req/s | 1.000 ms | 1.500 ms | 0.500 ms | < 1 ms |",
		"| (d) POST 1 KB | `fieldseal_keys_refresh_total{result=\"loaded\"}` | 1 | 1 | 0 | 0.000000 |",
	)
	t.Run("a fixed-rate run that fell behind is not compared", func(t *testing.T) {
		rep.fixed[1].load.RPS = 7000
		defer func() { rep.fixed[1].load.RPS = 10000 }()
		if md := rep.markdown(); !strings.Contains(md, "< 1 ms (not comparable: (d) did only 7000 of 10000 req/s) |") {
			t.Errorf("report:\n%s", md)
		}
	})
	t.Run("a failed run is listed and counted", func(t *testing.T) {
		rep.closed = append(rep.closed, result{spec: spec("e-list"), err: errors.New("3 of 10 requests failed")})
		md := rep.markdown()
		if rep.failures() != 1 || !strings.Contains(md, "- (e) GET 20 KB list failed: 3 of 10 requests failed") {
			t.Errorf("failures %d, report:\n%s", rep.failures(), md)
		}
		if strings.Contains(md, "(e)/(b)") {
			t.Error("a ratio was computed from a failed run")
		}
	})
}

func TestPairedRounds(t *testing.T) {
	run := func(id string, rps, cpu float64, p99 time.Duration) pairedRun {
		return pairedRun{spec: spec(id), load: load.Result{Requests: 1000, RPS: rps, P99: p99}, cpu: cpu}
	}
	// The machine slows down over three rounds; (d) stays at 0.9 of the
	// (b) run of its own round, which single long runs could not show.
	closed := pairedSet{wl: wlPost, specs: []caseSpec{spec("b-post"), spec("c-post"), spec("d-post")}, rounds: [][]pairedRun{
		{run("b-post", 20000, 40, 0), run("c-post", 19800, 41, 0), run("d-post", 18000, 45, 0)},
		{run("b-post", 16000, 50, 0), run("c-post", 15600, 51, 0), run("d-post", 14400, 56, 0)},
		{run("b-post", 22000, 38, 0), run("c-post", 21600, 39, 0), run("d-post", 19580, 43, 0)},
	}}
	fixed := pairedSet{wl: wlPost, rate: 8000, specs: []caseSpec{spec("b-post"), spec("d-post")}, rounds: [][]pairedRun{
		{run("b-post", 8000, 50, 4*time.Millisecond), run("d-post", 8000, 55, 4300*time.Microsecond)},
		{run("b-post", 8000, 50, 2*time.Millisecond), run("d-post", 8000, 55, 2100*time.Microsecond)},
		{run("b-post", 8000, 50, 3*time.Millisecond), run("d-post", 8000, 55, 3200*time.Microsecond)},
	}}
	d := findPaired([]pairedSet{closed}, wlPost, "(d)", false)
	if d == nil || fmt.Sprintf("%.3f %.3f %.3f %.1f", d.ratio, d.lo, d.hi, d.cpuAdded) != "0.900 0.890 0.900 5.0" {
		t.Fatalf("paired (d) = %+v", d)
	}
	rep := &report{opts: options{rateFraction: 0.5, roundDuration: 2 * time.Second}, paired: []pairedSet{closed, fixed}}
	md := rep.markdown()
	wantInReport(t, md,
		"| (d)/(b) req/s, POST 1 KB (seal 5, open 5) | 0.900 (0.890-0.900, 3 paired rounds) | >= 0.90 |",
		"| (c)/(b) req/s, POST 1 KB (no protected fields) | 0.982 (0.975-0.990, 3 paired rounds) | >= 0.97 |",
		"| (d) proxy CPU per request, POST 1 KB | 45.0 us ((b): 40.0 us; added per round: +5.0 us) | <= 40 us |",
		"| p99 added by (d) over (b), POST 1 KB, at 50% of (b)'s maximum | 0.200 ms (0.100 ms to 0.300 ms, 3 paired rounds) | < 1 ms |",
		"### POST 1 KB, fixed rate 8000 req/s, 3 rounds",
	)
	t.Run("a fixed-rate run that fell behind is flagged", func(t *testing.T) {
		fixed.rounds[2][1].load.RPS = 6000
		defer func() { fixed.rounds[2][1].load.RPS = 8000 }()
		md := (&report{opts: rep.opts, paired: []pairedSet{closed, fixed}}).markdown()
		wantInReport(t, md, "3 paired rounds; 1 runs fell behind the rate) | < 1 ms |", "1 of 3 runs fell behind the rate (overloaded")
	})
	t.Run("a failed run leaves its round out of the ratios", func(t *testing.T) {
		closed.rounds[1][2].err = errors.New("connection refused")
		d := findPaired([]pairedSet{closed}, wlPost, "(d)", false)
		if d == nil || d.rounds != 2 || d.err == nil {
			t.Errorf("paired (d) = %+v", d)
		}
	})
}

// wantInReport reports every wanted line missing from the markdown.
func wantInReport(t *testing.T, md string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q\n%s", want, md)
		}
	}
}

func TestKeyDeltas(t *testing.T) {
	before := measure.Metrics{`fieldseal_keys_refresh_total{result="loaded"}`: 1, "fieldseal_aws_kms_calls_total": 2}
	after := measure.Metrics{
		`fieldseal_keys_refresh_total{result="loaded"}`: 2,
		"fieldseal_aws_kms_calls_total":                 2,
		"fieldseal_keys_versions":                       1, // a gauge, not a call counter
		"fieldseal_proxy_requests_total":                100,
		`fieldseal_keys_refresh_total{result="error"}`:  1, // new series: before is 0
	}
	got := keyDeltas(before, after)
	want := []counterDelta{
		{"fieldseal_aws_kms_calls_total", 2, 2},
		{`fieldseal_keys_refresh_total{result="error"}`, 0, 1},
		{`fieldseal_keys_refresh_total{result="loaded"}`, 1, 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("delta %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestMedian(t *testing.T) {
	runs := []result{fakeRun("b-post", 9000, 0, 0), fakeRun("b-post", 11000, 0, 0), fakeRun("b-post", 10000, 0, 0)}
	t.Run("the median run by req/s is kept with every repetition listed", func(t *testing.T) {
		m := median(runs)
		if m.load.RPS != 10000 || len(m.repeats) != 3 || m.repeats[0] != 9000 {
			t.Errorf("median %+v", m)
		}
		var b strings.Builder
		writeRepeats(&b, []result{m}, "req/s", func(v float64) string { return fmt.Sprintf("%.0f", v) })
		if !strings.Contains(b.String(), "- (b) POST 1 KB: 9000, 11000, 10000\n") {
			t.Errorf("repeats listed as %q", b.String())
		}
	})
	t.Run("a failed repetition wins over the median", func(t *testing.T) {
		failed := runs[1]
		failed.err = errors.New("boom")
		if m := median([]result{runs[0], failed, runs[2]}); m.err == nil {
			t.Error("the failure was hidden")
		}
	})
}
