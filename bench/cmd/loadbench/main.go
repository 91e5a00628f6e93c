// Command loadbench is fieldseal's load benchmark in one command. On
// 127.0.0.1 and bounded in time it builds and starts the upstream, the plain
// proxy and fieldseal as separate processes, drives the same requests through
// each with bench/cmd/loadgen, reads CPU and memory from /proc and counters
// from /metrics, and writes a markdown report.
//
//	go run ./bench/cmd/loadbench -duration 10s -out bench/RESULTS.md
//	go run ./bench/cmd/loadbench -duration 5s -cases 'post' -soak 5m
//	go run ./bench/cmd/loadbench -instructions -out bench/INSTRUCTIONS.md
//
// Cases (issue 6): (a) upstream direct, (b) plain ReverseProxy, (c) fieldseal
// with no protected fields, (d) fieldseal sealing 5 fields on POST and opening
// 5 on GET, (e) fieldseal opening 2 fields in each of 100 list elements; then
// (b), (c), (d), (e) again at a fixed rate of half (b)'s maximum for the p99
// latency fieldseal adds; (n) nginx as a plain reverse proxy is the reference
// row where nginx is installed. With -instructions it instead counts the
// user-space instructions per request of each proxy process under valgrind's
// callgrind, which do not depend on the machine's load (instructions.go).
// See docs/performance.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/fieldseal/fieldseal/bench/workload"
)

type options struct {
	duration      time.Duration
	warmup        time.Duration
	conns         int
	rateFraction  float64
	out           string
	cases         *regexp.Regexp
	fieldseal     string
	soak          time.Duration
	soakRate      float64
	soakEvery     time.Duration
	soakCase      string
	keep          bool
	repeat        int
	rounds        int
	roundDuration time.Duration
	instructions  bool
	instrRequests int
	burst         bool
	burstRounds   int
	burstIdle     time.Duration
}

// harness holds what every case shares: the work directory, the built
// binaries, the running upstream and the key ring.
type harness struct {
	opts         options
	dir          string
	bins         map[string]string // upstream, plainproxy, loadgen, fieldseal ("" = not measured)
	upstream     *proc
	upstreamAddr string
	ringFile     string
	fieldsealEnv []string
	bodyFile     string
	client       *http.Client
}

var errNoFieldseal = errors.New("no fieldseal binary: cmd/fieldseal is not in this tree (merge main) and -fieldseal was not given")

func main() {
	var o options
	var cases string
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per case")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each case")
	flag.IntVar(&o.conns, "c", 32, "load generator connections")
	flag.Float64Var(&o.rateFraction, "rate-fraction", 0.5, "fixed-rate runs at this fraction of (b)'s maximum; 0 skips them")
	flag.StringVar(&o.out, "out", "bench/RESULTS.md", "markdown report to write")
	flag.StringVar(&cases, "cases", "", "regexp selecting case ids (a-post, b-get, d-post, e-list, ...; with -instructions: pass-post-b, seal-post-fs, big-get-n, ...; with -burst: burst-b, burst-n, burst-fs); empty = all")
	flag.StringVar(&o.fieldseal, "fieldseal", "", "fieldseal binary to measure; empty = build ./cmd/fieldseal; 'none' = skip (c)-(e)")
	flag.DurationVar(&o.soak, "soak", 0, "after the cases, run -soak-case at -soak-rate for this long and sample RSS (e.g. 5m)")
	flag.StringVar(&o.soakCase, "soak-case", "d-post", "case id the soak runs")
	flag.Float64Var(&o.soakRate, "soak-rate", 1000, "soak requests per second")
	flag.DurationVar(&o.soakEvery, "soak-every", 30*time.Second, "RSS sampling interval during the soak")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, logs, binaries)")
	flag.IntVar(&o.repeat, "repeat", 1, "run every case this many times, interleaved, and report the median run")
	flag.IntVar(&o.rounds, "rounds", 8, "paired rounds for the ratios against (b): alternate short runs of (b) and fieldseal this many times; 0 skips them")
	flag.DurationVar(&o.roundDuration, "round-duration", 2*time.Second, "length of each run in a paired round")
	flag.BoolVar(&o.instructions, "instructions", false, "count user-space instructions per request under valgrind's callgrind instead of measuring throughput (report: bench/INSTRUCTIONS.md unless -out is given)")
	flag.IntVar(&o.instrRequests, "instr-requests", 2000, "with -instructions: requests counted per case (a fiftieth, at least 10, for the 1 MB cases)")
	flag.BoolVar(&o.burst, "burst", false, "measure memory over rounds of 32 concurrent 1 MB POSTs (idle, peak and later RSS) instead of throughput; with -instructions, after it")
	flag.IntVar(&o.burstRounds, "burst-rounds", 4, "with -burst: rounds of 32 concurrent 1 MB POSTs")
	flag.DurationVar(&o.burstIdle, "burst-idle", 150*time.Second, "with -burst: how long RSS is sampled while idle after the rounds (the Go runtime forces a GC every 2 minutes)")
	flag.Parse()
	if o.instructions || o.burst {
		outSet := false
		flag.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
		if !outSet {
			o.out = "bench/INSTRUCTIONS.md"
		}
	}
	var err error
	if o.cases, err = regexp.Compile(cases); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench: -cases:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.repeat < 1 {
		return errors.New("-repeat must be at least 1")
	}
	if spec, ok := caseByID(o.soakCase); o.soak > 0 && (!ok || spec.target == direct) {
		return fmt.Errorf("-soak-case %q is not the id of a case with a proxy", o.soakCase)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "loadbench: work directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	h := &harness{opts: o, dir: dir, client: &http.Client{Timeout: 10 * time.Second}}
	rep := &report{opts: o, command: commandLine(), started: time.Now().UTC(), machine: describeMachine(ctx, root)}

	step("building binaries")
	if h.bins, err = build(ctx, root, dir, o.fieldseal); err != nil {
		return err
	}
	h.bodyFile = filepath.Join(dir, "customer.json")
	if err := os.WriteFile(h.bodyFile, workload.Customer(), 0o600); err != nil {
		return err
	}
	if h.upstreamAddr, err = freePort(); err != nil {
		return err
	}
	if h.upstream, err = startProc(dir, "upstream", nil, h.bins["upstream"], "-listen", h.upstreamAddr); err != nil {
		return err
	}
	defer h.upstream.stop()
	if err := waitReady(ctx, h.upstream, "http://"+h.upstreamAddr+"/healthz", 15*time.Second); err != nil {
		return err
	}
	if h.bins["fieldseal"] != "" {
		step("creating a key ring and seeding sealed fixtures through fieldseal")
		if err := h.setupFieldseal(ctx); err != nil {
			return fmt.Errorf("set up fieldseal: %w", err)
		}
	} else {
		rep.notes = append(rep.notes, "fieldseal was not measured: "+errNoFieldseal.Error()+". Cases (c)-(e) are missing and the GET cases served plaintext fixtures.")
	}

	if o.instructions || o.burst {
		ir := &instrReport{command: rep.command, started: rep.started, machine: rep.machine, opts: o}
		if nginxBinary() == "" {
			ir.notes = append(ir.notes, errNoNginx+".")
		}
		if h.bins["fieldseal"] == "" {
			ir.notes = append(ir.notes, "fieldseal was not measured: "+errNoFieldseal.Error()+".")
		}
		if o.instructions {
			if err := h.runInstructions(ctx, ir); err != nil {
				return err
			}
		}
		if o.burst {
			ir.burst = h.runBurst(ctx)
		}
		return writeReport(o.out, ir.markdown(), ir.failures(), "cases")
	}

	var closed []caseSpec
	for _, spec := range allCases() {
		if o.cases.MatchString(spec.id) && (spec.target != fieldseal || h.bins["fieldseal"] != "") && (spec.target != nginx || nginxBinary() != "") {
			closed = append(closed, spec)
		}
	}
	if nginxBinary() == "" {
		rep.notes = append(rep.notes, errNoNginx+".")
	}
	rep.closed = h.runRepeated(ctx, closed, func(caseSpec) float64 { return 0 })
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if o.rateFraction > 0 {
		var fixed []caseSpec
		for _, spec := range closed {
			if base := rep.find(string(spec.wl), "(b)", 0); spec.target != direct && ok(base) {
				fixed = append(fixed, spec)
			}
		}
		rep.fixed = h.runRepeated(ctx, fixed, func(spec caseSpec) float64 {
			return float64(int(rep.find(string(spec.wl), "(b)", 0).load.RPS * o.rateFraction))
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if o.rounds > 0 {
		groups := pairedGroups(closed)
		for _, g := range groups {
			step(fmt.Sprintf("paired rounds, %s, closed loop: %d x (%s), %v each", g[0].wl, o.rounds, caseIDs(g), o.roundDuration))
			rep.paired = append(rep.paired, h.runPaired(ctx, g, 0))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		for _, g := range groups {
			base := findPaired(rep.paired, g[0].wl, "(b)", false)
			if o.rateFraction <= 0 || base == nil {
				continue
			}
			rate := float64(int(base.rps * o.rateFraction))
			step(fmt.Sprintf("paired rounds, %s, fixed rate %.0f req/s: %d x (%s), %v each", g[0].wl, rate, o.rounds, caseIDs(g), o.roundDuration))
			rep.paired = append(rep.paired, h.runPaired(ctx, g, rate))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if o.soak > 0 {
		spec, _ := caseByID(o.soakCase)
		switch {
		case spec.target == fieldseal && h.bins["fieldseal"] == "":
			rep.notes = append(rep.notes, "soak skipped: "+errNoFieldseal.Error())
		default:
			step(fmt.Sprintf("soak: %s at %.0f req/s for %v, RSS every %v", spec.id, o.soakRate, o.soak, o.soakEvery))
			s := h.runSoak(ctx, spec)
			rep.soak = &s
		}
	}
	rep.machine.loadAfter = loadAverage()

	return writeReport(o.out, rep.markdown(), rep.failures(), "runs")
}

// writeReport writes the report md to path and stdout; failed counts what
// failed (what names them: "cases", "runs"), an error when any did.
func writeReport(path, md string, failed int, what string) error {
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Print(md)
	step("report written to " + path)
	if failed > 0 {
		return fmt.Errorf("%d %s failed; see the report", failed, what)
	}
	return nil
}

// setupFieldseal creates a master key and key ring, then starts fieldseal
// once to seed the upstream's fixtures with sealed values and verify them.
func (h *harness) setupFieldseal(ctx context.Context) error {
	mk, err := newMasterKey()
	if err != nil {
		return err
	}
	h.fieldsealEnv = []string{workload.MasterKeyEnv + "=" + mk}
	h.ringFile = filepath.Join(h.dir, "ring.json")
	cfg := filepath.Join(h.dir, "fieldseal-init.yaml")
	if err := os.WriteFile(cfg, workload.FieldsealConfig("127.0.0.1:1", "127.0.0.1:2", h.upstreamAddr, h.ringFile), 0o600); err != nil {
		return err
	}
	if err := initKeyRing(ctx, h.bins["fieldseal"], cfg, h.fieldsealEnv); err != nil {
		return err
	}
	p, listen, _, err := h.startFieldseal(ctx, "fieldseal-seed")
	if err != nil {
		return err
	}
	defer p.stop()
	return seedAndVerify(ctx, listen, h.upstreamAddr)
}

// build compiles the harness's programs, and fieldseal unless a binary is
// given, into dir/bin, so every measured pid is the program itself and not
// a `go run` wrapper. They are built as the Dockerfile builds fieldseal:
// static (CGO_ENABLED=0) and with -trimpath, so the numbers are those of
// the image users run (a cgo build also maps libc, about 1.5 MB more RSS).
func build(ctx context.Context, root, dir, fieldsealBin string) (map[string]string, error) {
	binDir := filepath.Join(dir, "bin")
	pkgs := []string{"./bench/cmd/upstream", "./bench/cmd/plainproxy", "./bench/cmd/loadgen"}
	bins := map[string]string{}
	switch fieldsealBin {
	case "none":
	case "":
		if _, err := os.Stat(filepath.Join(root, "cmd", "fieldseal")); err == nil {
			pkgs = append(pkgs, "./cmd/fieldseal")
			bins["fieldseal"] = filepath.Join(binDir, "fieldseal")
		}
	default:
		abs, err := filepath.Abs(fieldsealBin)
		if err != nil {
			return nil, err
		}
		bins["fieldseal"] = abs
	}
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-trimpath", "-o", binDir + "/"}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out)
	}
	for _, p := range pkgs[:3] {
		bins[filepath.Base(p)] = filepath.Join(binDir, filepath.Base(p))
	}
	return bins, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run loadbench inside the fieldseal module")
	}
	return filepath.Dir(mod), nil
}

// commandLine is the command as a user would type it from the module root.
func commandLine() string {
	parts := []string{"go run ./bench/cmd/loadbench"}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " '\"$*|") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// runRepeated runs every spec -repeat times, round-robin so slow drift in the
// machine's load spreads over all cases, and keeps each case's median run:
// by req/s in closed loop (rate 0), by p99 at a fixed rate. A failed
// repetition is kept instead, so a failure is never hidden by a median.
func (h *harness) runRepeated(ctx context.Context, specs []caseSpec, rate func(caseSpec) float64) []result {
	runs := make([][]result, len(specs))
	for n := 1; n <= h.opts.repeat; n++ {
		for i, spec := range specs {
			mode := "closed loop"
			if r := rate(spec); r > 0 {
				mode = fmt.Sprintf("fixed rate %.0f req/s", r)
			}
			step(fmt.Sprintf("%s %s: %s, %s %v (%d/%d)", spec.id, spec.wl, spec.what, mode, h.opts.duration, n, h.opts.repeat))
			r := h.runCase(ctx, spec, rate(spec))
			logResult(r)
			runs[i] = append(runs[i], r)
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	out := make([]result, len(specs))
	for i, rs := range runs {
		out[i] = median(rs)
	}
	return out
}

func median(rs []result) result {
	for _, r := range rs {
		if r.err != nil {
			return r
		}
	}
	key := func(r result) float64 { return r.load.RPS }
	if rs[0].rate > 0 {
		key = func(r result) float64 { return float64(r.load.P99) }
	}
	sorted := slices.Clone(rs)
	sort.SliceStable(sorted, func(i, j int) bool { return key(sorted[i]) < key(sorted[j]) })
	m := sorted[(len(sorted)-1)/2]
	for _, r := range rs {
		m.repeats = append(m.repeats, key(r))
	}
	return m
}

func caseIDs(specs []caseSpec) string {
	ids := make([]string, len(specs))
	for i, s := range specs {
		ids[i] = s.id
	}
	return strings.Join(ids, ", ")
}

func step(msg string) {
	fmt.Fprintf(os.Stderr, "%s loadbench: %s\n", time.Now().UTC().Format("15:04:05"), msg)
}

func logResult(r result) {
	if r.err != nil {
		step(fmt.Sprintf("  %s FAILED: %v", r.spec.id, r.err))
		return
	}
	step(fmt.Sprintf("  %s: %.0f req/s, p50 %s p99 %s, proxy %.1f us/req", r.spec.id, r.load.RPS,
		ms(r.load.P50), ms(r.load.P99), r.perRequest(r.proxyCPU)))
}

func sortDeltas(d []counterDelta) {
	sort.Slice(d, func(i, j int) bool { return d[i].series < d[j].series })
}
