package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldseal/fieldseal/bench/load"
	"github.com/fieldseal/fieldseal/bench/measure"
	"github.com/fieldseal/fieldseal/bench/workload"
)

// target is what a case sends its load to.
type target int

const (
	direct    target = iota // the upstream itself
	plain                   // bench/cmd/plainproxy in front of the upstream
	fieldseal               // cmd/fieldseal in front of the upstream
	nginx                   // nginx as a plain reverse proxy, the reference users already run
)

// workload groups the cases that send the same request, and so compare.
type workloadKind string

const (
	wlPost workloadKind = "POST 1 KB"
	wlGet  workloadKind = "GET 1 KB"
	wlList workloadKind = "GET 20 KB list"
)

type caseSpec struct {
	id     string // e.g. "d-post"; -cases matches it
	letter string // (a) .. (e) as in issue 6
	what   string
	wl     workloadKind
	target target
	method string
	path   string
}

// allCases are the closed-loop cases in run order. The fixed-rate runs reuse
// the (b), (c), (d) and (e) specs at half of (b)'s measured maximum.
func allCases() []caseSpec {
	return []caseSpec{
		{"a-post", "(a)", "upstream direct", wlPost, direct, "POST", workload.PathSealedPost},
		{"b-post", "(b)", "plain ReverseProxy", wlPost, plain, "POST", workload.PathSealedPost},
		{"n-post", "(n)", "nginx, plain reverse proxy", wlPost, nginx, "POST", workload.PathSealedPost},
		{"c-post", "(c)", "fieldseal, no protected fields", wlPost, fieldseal, "POST", workload.PathPlainPost},
		{"d-post", "(d)", "fieldseal, seal 5 fields in, open 5 in the echo", wlPost, fieldseal, "POST", workload.PathSealedPost},
		{"a-get", "(a)", "upstream direct", wlGet, direct, "GET", workload.PathSealedGet},
		{"b-get", "(b)", "plain ReverseProxy", wlGet, plain, "GET", workload.PathSealedGet},
		{"n-get", "(n)", "nginx, plain reverse proxy", wlGet, nginx, "GET", workload.PathSealedGet},
		{"c-get", "(c)", "fieldseal, no protected fields", wlGet, fieldseal, "GET", workload.PathPlainGet},
		{"d-get", "(d)", "fieldseal, open 5 sealed fields", wlGet, fieldseal, "GET", workload.PathSealedGet},
		{"a-list", "(a)", "upstream direct", wlList, direct, "GET", workload.PathSealedList},
		{"b-list", "(b)", "plain ReverseProxy", wlList, plain, "GET", workload.PathSealedList},
		{"n-list", "(n)", "nginx, plain reverse proxy", wlList, nginx, "GET", workload.PathSealedList},
		{"e-list", "(e)", "fieldseal, open 2 fields x 100 elements", wlList, fieldseal, "GET", workload.PathSealedList},
	}
}

func caseByID(id string) (caseSpec, bool) {
	for _, c := range allCases() {
		if c.id == id {
			return c, true
		}
	}
	return caseSpec{}, false
}

// loadOutput is what bench/cmd/loadgen prints.
type loadOutput struct {
	load.Result
	CPU time.Duration `json:"cpu_ns"`
}

// result is one measured run of one case.
type result struct {
	spec        caseSpec
	rate        float64 // 0 = closed loop
	load        loadOutput
	proxyCPU    time.Duration // CPU of the proxy process during the measured run
	upstreamCPU time.Duration
	allocs      float64 // proxy mallocs during the run; valid if allocsKnown
	allocsKnown bool
	fields      float64 // protected values fieldseal handled; valid if fieldsKnown
	fieldsKnown bool
	peakRSS     uint64         // proxy VmHWM at the end of the run
	keys        []counterDelta // fieldseal key-provider counters
	err         error          // the run measured nothing trustworthy
	repeats     []float64      // with -repeat: each repetition\'s req/s (closed loop) or p99 in ns (fixed rate)
}

type counterDelta struct {
	series        string
	before, after float64
}

func (r result) perRequest(d time.Duration) float64 {
	if r.load.Requests == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(r.load.Requests)
}

// fieldsMetric counts the protected values fieldseal sealed or opened: the
// proof that a case did the work it is named for (10 per (d) POST, 5 per (d)
// GET, 200 per (e), none for (c)).
const fieldsMetric = "fieldseal_proxy_fields_total"

// keyCounter selects fieldseal's key-provider and KMS/Secrets Manager
// counters from /metrics: what must not grow with the request count.
var keyCounter = regexp.MustCompile(`^fieldseal_(keys|kms|secretsmanager|aws|provider)[a-z0-9_]*_total$`)

// runCase starts the case's proxy (a fresh process, so peak RSS and counters
// belong to this case alone), warms it up, then measures one loadgen run.
func (h *harness) runCase(ctx context.Context, spec caseSpec, rate float64) result {
	res := result{spec: spec, rate: rate}
	addr, pid, metricsURL, stop, err := h.startTarget(ctx, spec)
	if err != nil {
		res.err = err
		return res
	}
	defer stop()

	url := "http://" + addr + spec.path
	if _, err := h.loadgen(ctx, spec, url, h.opts.warmup, rate); err != nil {
		res.err = fmt.Errorf("warm-up: %w", err)
		return res
	}
	before, err := h.snapshot(ctx, pid, metricsURL)
	if err != nil {
		res.err = err
		return res
	}
	out, err := h.loadgen(ctx, spec, url, h.opts.duration, rate)
	if err != nil {
		res.err = err
		return res
	}
	after, err := h.snapshot(ctx, pid, metricsURL)
	if err != nil {
		res.err = err
		return res
	}
	res.load = out
	res.err = load.Check(out.Result)
	res.upstreamCPU = after.upstreamCPU - before.upstreamCPU
	if spec.target != direct {
		res.proxyCPU = after.proxyCPU - before.proxyCPU
		res.peakRSS = after.mem.Peak
	}
	if b, ok := before.metrics.Value("go_memstats_mallocs_total"); ok {
		a, _ := after.metrics.Value("go_memstats_mallocs_total")
		res.allocs, res.allocsKnown = a-b, true
	}
	if b, ok := before.metrics.Value(fieldsMetric); ok {
		a, _ := after.metrics.Value(fieldsMetric)
		res.fields, res.fieldsKnown = a-b, true
	}
	res.keys = keyDeltas(before.metrics, after.metrics)
	return res
}

func keyDeltas(before, after measure.Metrics) []counterDelta {
	var out []counterDelta
	for series, a := range after {
		name := series
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		if keyCounter.MatchString(name) {
			out = append(out, counterDelta{series: series, before: before[series], after: a})
		}
	}
	sortDeltas(out)
	return out
}

type snapshot struct {
	proxyCPU, upstreamCPU time.Duration
	mem                   measure.Memory
	metrics               measure.Metrics
}

func (h *harness) snapshot(ctx context.Context, pid int, metricsURL string) (snapshot, error) {
	var s snapshot
	var err error
	if s.upstreamCPU, err = measure.CPUTime(h.upstream.pid()); err != nil {
		return s, err
	}
	if pid == 0 {
		return s, nil
	}
	if s.proxyCPU, err = measure.CPUTime(pid); err != nil {
		return s, err
	}
	if s.mem, err = measure.ReadMemory(pid); err != nil {
		return s, err
	}
	if metricsURL != "" {
		if s.metrics, err = measure.Scrape(ctx, h.client, metricsURL); err != nil {
			return s, err
		}
	}
	return s, nil
}

// startTarget starts the process a case measures and returns its address,
// pid (0 for the upstream itself, whose CPU is reported separately), metrics
// URL and a stop function.
func (h *harness) startTarget(ctx context.Context, spec caseSpec) (addr string, pid int, metricsURL string, stop func(), err error) {
	switch spec.target {
	case direct:
		return h.upstreamAddr, 0, "", func() {}, nil
	case plain:
		p, listen, admin, err := h.startPlain(ctx, "plainproxy-"+spec.id, nil)
		if err != nil {
			return "", 0, "", nil, err
		}
		return listen, p.pid(), "http://" + admin + "/metrics", p.stop, nil
	case nginx:
		p, listen, err := h.startNginx(ctx, "nginx-"+spec.id, nil)
		if err != nil {
			return "", 0, "", nil, err
		}
		return listen, p.pid(), "", p.stop, nil
	default:
		if h.bins["fieldseal"] == "" {
			return "", 0, "", nil, errNoFieldseal
		}
		p, listen, admin, err := h.startFieldseal(ctx, "fieldseal-"+spec.id)
		if err != nil {
			return "", 0, "", nil, err
		}
		return listen, p.pid(), "http://" + admin + "/metrics", p.stop, nil
	}
}

// startPlain starts the plain proxy (case b) on fresh ports, its command
// prefixed by wrap (a profiler, or nil), and waits for its /healthz.
func (h *harness) startPlain(ctx context.Context, name string, wrap []string) (p *proc, listen, admin string, err error) {
	if listen, admin, err = twoPorts(); err != nil {
		return nil, "", "", err
	}
	p, err = h.startReady(ctx, name, nil, wrap, "http://"+admin+"/healthz", h.bins["plainproxy"],
		"-listen", listen, "-upstream", "http://"+h.upstreamAddr, "-admin", admin)
	if err != nil {
		return nil, "", "", err
	}
	return p, listen, admin, nil
}

// startFieldseal starts `fieldseal serve` on fresh ports with the shared key
// ring and waits for /readyz (keys loaded).
func (h *harness) startFieldseal(ctx context.Context, name string) (p *proc, listen, admin string, err error) {
	return h.startFieldsealWith(ctx, name, workload.ConfigOptions{}, nil)
}

// startFieldsealWith is startFieldseal with config options and the command
// prefixed by wrap (a profiler, or nil).
func (h *harness) startFieldsealWith(ctx context.Context, name string, o workload.ConfigOptions, wrap []string) (p *proc, listen, admin string, err error) {
	listen, admin, err = twoPorts()
	if err != nil {
		return nil, "", "", err
	}
	cfg := h.dir + "/" + name + ".yaml"
	if err := os.WriteFile(cfg, workload.FieldsealConfigWith(listen, admin, h.upstreamAddr, h.ringFile, o), 0o600); err != nil {
		return nil, "", "", fmt.Errorf("write %s: %w", cfg, err)
	}
	p, err = h.startReady(ctx, name, h.fieldsealEnv, wrap, "http://"+admin+"/readyz", h.bins["fieldseal"], "serve", "--config", cfg)
	if err != nil {
		return nil, "", "", err
	}
	return p, listen, admin, nil
}

// startReady starts bin with args in h's directory (startWrapped) and
// waits until readyURL answers (readyTimeout); a process that does not
// become ready is stopped.
func (h *harness) startReady(ctx context.Context, name string, env, wrap []string, readyURL, bin string, args ...string) (*proc, error) {
	p, err := startWrapped(h.dir, name, env, wrap, bin, args...)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p, readyURL, readyTimeout(wrap)); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startWrapped starts bin with args, prefixed by wrap when it is not empty.
// A Go program under valgrind runs with asynchronous preemption off:
// callgrind cannot follow the signals the Go scheduler preempts with.
func startWrapped(dir, name string, env, wrap []string, bin string, args ...string) (*proc, error) {
	if len(wrap) == 0 {
		return startProc(dir, name, env, bin, args...)
	}
	env = append(slices.Clone(env), "GODEBUG=asyncpreemptoff=1")
	return startProc(dir, name, env, wrap[0], append(append(slices.Clone(wrap[1:]), bin), args...)...)
}

func twoPorts() (string, string, error) {
	a, err := freePort()
	if err != nil {
		return "", "", err
	}
	b, err := freePort()
	if err != nil {
		return "", "", err
	}
	return a, b, nil
}

// loadgen runs bench/cmd/loadgen in its own process with GOMAXPROCS=1: one
// thread, like wrk -t1, which on two cores measured as cheap per request as
// wrk and leaves the other core's worth to the proxy and upstream.
func (h *harness) loadgen(ctx context.Context, spec caseSpec, url string, d time.Duration, rate float64) (loadOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	args := []string{"-url", url, "-method", spec.method, "-c", strconv.Itoa(h.opts.conns),
		"-duration", d.String(), "-rate", strconv.FormatFloat(rate, 'f', 0, 64)}
	if spec.method == "POST" {
		args = append(args, "-body", h.bodyFile)
	}
	cmd := exec.CommandContext(ctx, h.bins["loadgen"], args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return loadOutput{}, fmt.Errorf("loadgen %s: %w: %s", spec.id, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var out loadOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return loadOutput{}, fmt.Errorf("loadgen %s: read result: %w", spec.id, err)
	}
	return out, nil
}
