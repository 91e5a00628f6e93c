package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/bench/workload"
)

// The instructions mode counts the user-space instructions each proxy
// process executes per request under valgrind's callgrind, which repeat
// within about 1% however loaded the machine is (unlike time or
// throughput, which drift with what else runs on the shared cores). Each
// proxy runs under callgrind for the whole mode; for each case the harness
// sends a warm-up, zeroes the counters (callgrind_control -z), sends an
// exact number of requests, dumps the counters (callgrind_control --dump)
// and divides the instructions by the requests. Instructions of every
// thread of the process count: the Go runtime's scheduler and garbage
// collector are part of what a request costs. Only loopback traffic, and
// every loop is bounded by a request count.

// instrTarget is a process the instructions mode measures.
type instrTarget string

const (
	itPlain     instrTarget = "(b) plain ReverseProxy"
	itNginx     instrTarget = "(n) nginx"
	itFieldseal instrTarget = "fieldseal"
	itAuth      instrTarget = "fieldseal with auth"
)

// instrCase is one measured row.
type instrCase struct {
	id     string // e.g. "seal-post-fs"; -cases selects by it
	group  string // rows that send the same request and compare
	target instrTarget
	method string
	path   string
	body   []byte
	gzip   bool   // send Accept-Encoding: gzip
	token  bool   // send the bench bearer token
	check  string // a fieldseal answer must contain this plaintext (proof it opened)
	large  bool   // 1 MB bodies: fewer requests
}

const (
	grpPassPost = "POST 1 KB, no protected fields"
	grpSealPost = "POST 1 KB, seal 5 fields (open 5 in the echo)"
	grpOpenGet  = "GET 1 KB, open 5 fields"
	grpAuthGet  = "GET 1 KB, open 5 fields, authenticated (RS256 bearer, repeated token)"
	grpGzipGet  = "GET 1 KB, open 5 fields, gzip response"
	grpList     = "GET 20 KB list, open 200 fields"
	grpBigPost  = "POST 1 MB, seal 5 fields (open 5 in the echo)"
	grpBigGet   = "GET 1 MB, open 5 fields"
)

// instrCases are the rows, (b) and nginx first in every group.
func instrCases() []instrCase {
	// What the plaintext fixtures hold at a protected path: a fieldseal
	// answer must show it opened.
	email := gjson.GetBytes(workload.Customer(), "email").Str
	listEmail := gjson.GetBytes(workload.List(), "0.email").Str
	customer, large := workload.Customer(), workload.Large()
	var out []instrCase
	suffix := map[instrTarget]string{itPlain: "-b", itNginx: "-n", itFieldseal: "-fs", itAuth: "-fs"}
	add := func(id, group, method, path string, body []byte, fs instrTarget, check string, gz, token, big bool) {
		for _, t := range []instrTarget{itPlain, itNginx, fs} {
			c := instrCase{id: id + suffix[t], group: group, target: t, method: method, path: path, body: body, gzip: gz, token: token, large: big}
			if t == fs {
				c.check = check
			}
			out = append(out, c)
		}
	}
	add("pass-post", grpPassPost, "POST", workload.PathPlainPost, customer, itFieldseal, email, false, false, false)
	add("seal-post", grpSealPost, "POST", workload.PathSealedPost, customer, itFieldseal, email, false, false, false)
	add("open-get", grpOpenGet, "GET", workload.PathSealedGet, nil, itFieldseal, email, false, false, false)
	add("auth-get", grpAuthGet, "GET", workload.PathSealedGet, nil, itAuth, email, false, true, false)
	// The same request, header and all, to fieldseal without auth: what
	// verification adds, apart from carrying a 1 KB header.
	out = append(out, instrCase{id: "auth-get-off", group: grpAuthGet, target: itFieldseal, method: "GET",
		path: workload.PathSealedGet, token: true, check: email})
	add("gzip-get", grpGzipGet, "GET", workload.PathSealedGet, nil, itFieldseal, email, true, false, false)
	add("list-get", grpList, "GET", workload.PathSealedList, nil, itFieldseal, listEmail, false, false, false)
	add("big-post", grpBigPost, "POST", workload.PathSealedLargePost, large, itFieldseal, email, false, false, true)
	add("big-get", grpBigGet, "GET", workload.PathSealedLargeGet, nil, itFieldseal, email, false, false, true)
	return out
}

// instrResult is one row's measurement.
type instrResult struct {
	c            instrCase
	requests     int
	instructions float64 // total over requests
	bytesIn      int64   // response bytes read by the client over requests
	restarts     int     // processes that died under callgrind before this case counted
	err          error
}

func (r instrResult) perRequest() float64 { return r.instructions / float64(r.requests) }

// bench token material: an RSA key whose public half the harness's own
// JWKS endpoint serves, and one access token reused for every request.
const (
	benchKID      = "bench-1"
	benchClientID = "bench-client"
)

type issuer struct {
	url   string
	token string
	srv   *http.Server
}

// startIssuer serves a JWKS on 127.0.0.1 and signs a token valid for 2 hours.
func startIssuer() (*issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate issuer key: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	iss := &issuer{url: "http://" + l.Addr().String()}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":%q,"alg":"RS256","use":"sig","n":%q,"e":%q}]}`,
		benchKID, b64(key.N.Bytes()), b64(big.NewInt(int64(key.E)).Bytes()))
	iss.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, jwks)
	})}
	go func() { _ = iss.srv.Serve(l) }()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": iss.url, "sub": "bench-caller", "client_id": benchClientID, "token_use": "access",
		"scope": "customers/read customers/write", "iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix(),
	})
	tok.Header["kid"] = benchKID
	if iss.token, err = tok.SignedString(key); err != nil {
		iss.srv.Close()
		return nil, fmt.Errorf("sign bench token: %w", err)
	}
	return iss, nil
}

// callgrind runs one process under valgrind's callgrind and reads its
// instruction counter.
type callgrind struct {
	proc   *proc
	url    string // base URL of the proxy
	outDir string
	name   string
	keep   bool // keep the dump files
}

func callgrindWrap(dir, name string) []string {
	return []string{"valgrind", "--tool=callgrind", "--callgrind-out-file=" + filepath.Join(dir, name+".cg.%p")}
}

// control runs callgrind_control with args against the process.
func (c *callgrind) control(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "callgrind_control", append(args, strconv.Itoa(c.proc.pid()))...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("callgrind_control %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// dump writes the counters since the last zero and returns their total.
// With -keep the dump stays in the work directory as ID.callgrind.
func (c *callgrind) dump(ctx context.Context, id string) (float64, error) {
	if err := c.control(ctx, "--dump"); err != nil {
		return 0, err
	}
	prefix := filepath.Join(c.outDir, fmt.Sprintf("%s.cg.%d.", c.name, c.proc.pid()))
	files, _ := filepath.Glob(prefix + "*")
	last, lastN := "", -1
	for _, f := range files {
		if n, err := strconv.Atoi(strings.TrimPrefix(f, prefix)); err == nil && n > lastN {
			last, lastN = f, n
		}
	}
	if last == "" {
		return 0, fmt.Errorf("no callgrind dump %s*", prefix)
	}
	if c.keep { // callgrind_annotate ID.callgrind shows where a case's instructions went
		kept := filepath.Join(c.outDir, id+".callgrind")
		if err := os.Rename(last, kept); err == nil {
			last = kept
		}
	} else {
		defer os.Remove(last)
	}
	f, err := os.Open(last)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "summary: "); ok {
			return strconv.ParseFloat(strings.Fields(v)[0], 64)
		}
	}
	return 0, fmt.Errorf("no summary line in %s", last)
}

// runInstructions is the -instructions mode: every case under callgrind,
// then the report.
func (h *harness) runInstructions(ctx context.Context, rep *instrReport) error {
	if _, err := exec.LookPath("valgrind"); err != nil {
		return errors.New("the instructions mode needs valgrind and callgrind_control (Debian: apt-get install valgrind)")
	}
	iss, err := startIssuer()
	if err != nil {
		return err
	}
	defer iss.srv.Close()
	procs := map[instrTarget]*callgrind{}
	defer func() {
		for _, c := range procs {
			c.proc.stop()
		}
	}()
	start := func(t instrTarget) (*callgrind, error) {
		if c, ok := procs[t]; ok {
			return c, nil
		}
		name := "cg-" + strings.NewReplacer("(", "", ")", "", " ", "-").Replace(string(t))
		wrap := callgrindWrap(h.dir, name)
		step(fmt.Sprintf("instructions: starting %s under callgrind", t))
		c := &callgrind{outDir: h.dir, name: name, keep: h.opts.keep}
		var listen string
		var err error
		switch t {
		case itPlain:
			c.proc, listen, _, err = h.startPlain(ctx, name, wrap)
		case itNginx:
			c.proc, listen, err = h.startNginx(ctx, name, wrap)
		case itFieldseal:
			c.proc, listen, _, err = h.startFieldsealWith(ctx, name, workload.ConfigOptions{}, wrap)
		case itAuth:
			c.proc, listen, _, err = h.startFieldsealWith(ctx, name, workload.ConfigOptions{AuthIssuer: iss.url, AuthClientID: benchClientID}, wrap)
		}
		if err != nil {
			return nil, err
		}
		c.url = "http://" + listen
		procs[t] = c
		return c, nil
	}
	for _, ic := range instrCases() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !h.opts.cases.MatchString(ic.id) {
			continue
		}
		res := instrResult{c: ic, requests: h.opts.instrRequests}
		if ic.large {
			res.requests = max(h.opts.instrRequests/50, 10)
		}
		switch {
		case ic.target == itNginx && nginxBinary() == "":
			res.err = errors.New("skipped: " + errNoNginx)
		case (ic.target == itFieldseal || ic.target == itAuth) && h.bins["fieldseal"] == "":
			res.err = errNoFieldseal
		default:
			// callgrind (3.19) now and then aborts on a signal the Go
			// runtime handles; the case then runs again on a fresh process.
			for attempt := 0; attempt < 3; attempt++ {
				c, err := start(ic.target)
				if err != nil {
					res.err = err
					break
				}
				step(fmt.Sprintf("instructions: %s, %s: %d requests", ic.group, ic.target, res.requests))
				res.instructions, res.bytesIn, res.err = h.countInstructions(ctx, c, ic, iss.token, res.requests)
				if res.err == nil {
					step(fmt.Sprintf("  %.0f instructions per request", res.perRequest()))
					break
				}
				select {
				case <-c.proc.done:
					step(fmt.Sprintf("  %s exited under callgrind (%v); starting it again", ic.target, res.err))
					delete(procs, ic.target)
					res.restarts++
					continue
				default:
				}
				break
			}
		}
		if res.err != nil {
			step(fmt.Sprintf("  %s FAILED: %v", ic.target, res.err))
		}
		rep.results = append(rep.results, res)
	}
	return nil
}

// instrConns is the number of keep-alive connections the counted requests
// use: a few, so the proxy handles concurrent requests as in production,
// while the count of requests stays exact.
const instrConns = 4

// countInstructions warms the process up, zeroes its counters, sends n
// requests and returns the instructions they took and the response bytes.
func (h *harness) countInstructions(ctx context.Context, c *callgrind, ic instrCase, token string, n int) (float64, int64, error) {
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: instrConns, DisableCompression: true, Proxy: nil,
	}}
	defer client.CloseIdleConnections()
	send := func(n int) (int64, error) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var total int64
		var errs []error
		next := make(chan struct{}, n)
		for range n {
			next <- struct{}{}
		}
		close(next)
		for range instrConns {
			wg.Go(func() {
				for range next {
					got, err := h.instrRequest(ctx, client, c.url, ic, token)
					mu.Lock()
					total += got
					if err != nil && len(errs) < 3 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return total, errors.Join(errs...)
	}
	// A proxy that sat idle (long, under callgrind, while other processes
	// were measured) may reuse an upstream connection the upstream closed
	// after its idle timeout, and the request that meets it fails: the
	// case then starts over, counters zeroed again, on fresh connections.
	var err error
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			step(fmt.Sprintf("  %v; starting the case over", err))
			client.CloseIdleConnections()
			select {
			case <-c.proc.done:
				return 0, 0, err
			default:
			}
		}
		if _, err = send(max(n/4, 10)); err != nil {
			err = fmt.Errorf("warm-up: %w", err)
			continue
		}
		if err := c.control(ctx, "--zero"); err != nil {
			return 0, 0, err
		}
		var bytesIn int64
		if bytesIn, err = send(n); err != nil {
			continue
		}
		total, err := c.dump(ctx, ic.id)
		return total, bytesIn, err
	}
	return 0, 0, err
}

// instrRequest sends one request and checks its answer: a 2xx, gzip when
// asked for, and for fieldseal the opened plaintext.
func (h *harness) instrRequest(ctx context.Context, client *http.Client, base string, ic instrCase, token string) (int64, error) {
	url := base + ic.path
	if ic.gzip {
		url += "?" + workload.QueryGzip
	}
	req, err := http.NewRequestWithContext(ctx, ic.method, url, bytes.NewReader(ic.body))
	if err != nil {
		return 0, err
	}
	if ic.body != nil {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Body = http.NoBody
	}
	if ic.gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	if ic.token {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode/100 != 2 {
		return 0, fmt.Errorf("%s %s: status %d: %.200s", ic.method, ic.path, resp.StatusCode, body)
	}
	plain := body
	if ic.gzip && ic.method == http.MethodGet {
		if resp.Header.Get("Content-Encoding") != "gzip" {
			return 0, fmt.Errorf("GET %s: asked for gzip, got Content-Encoding %q", ic.path, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		if plain, err = io.ReadAll(zr); err != nil {
			return 0, err
		}
	}
	if ic.check != "" && !bytes.Contains(plain, []byte(ic.check)) {
		return 0, fmt.Errorf("%s %s: answer does not hold the opened plaintext", ic.method, ic.path)
	}
	return int64(len(body)), nil
}

// instrReport is the instructions mode's markdown report.
type instrReport struct {
	command string
	started time.Time
	machine machine
	opts    options
	results []instrResult
	burst   []burstResult
	notes   []string
}

func (r *instrReport) find(group string, t instrTarget) *instrResult {
	for i := range r.results {
		if r.results[i].c.group == group && r.results[i].c.target == t && r.results[i].err == nil {
			return &r.results[i]
		}
	}
	return nil
}

func (r *instrReport) failures() int {
	n := 0
	for _, x := range r.burst {
		if x.err != nil && !strings.HasPrefix(x.err.Error(), "skipped") {
			n++
		}
	}
	for _, x := range r.results {
		if x.err != nil && !strings.HasPrefix(x.err.Error(), "skipped") {
			n++
		}
	}
	return n
}

func (r *instrReport) markdown() string {
	var b strings.Builder
	m := r.machine
	title := "instructions per request"
	switch {
	case !r.opts.instructions:
		title = "memory of large documents"
	case r.opts.burst:
		title += " and memory of large documents"
	}
	fmt.Fprintf(&b, "# fieldseal %s\n\n", title)
	fmt.Fprintf(&b, "Run %s, %s of wall time. Command, from the module root:\n\n    %s\n\n",
		r.started.Format("2006-01-02 15:04 MST"), time.Since(r.started).Round(time.Second), r.command)
	fmt.Fprintf(&b, "| machine | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| CPU | %d x %s (nproc %d) |\n| kernel | %s |\n| Go | %s |\n| valgrind | %s |\n| nginx | %s |\n| commit | %s |\n\n",
		m.nproc, m.cpu, m.nproc, m.kernel, m.goVer, toolVersion("valgrind", "--version"), toolVersion(nginxBinary(), "-v"), m.commit)
	if r.opts.instructions {
		r.writeInstructions(&b)
	}
	if r.burst != nil {
		b.WriteString("\n")
		b.WriteString(burstMarkdown(r.burst, r.opts))
	}
	if len(r.notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		sort.Strings(r.notes)
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func (r *instrReport) writeInstructions(b *strings.Builder) {
	fmt.Fprintf(b, "User-space instructions of the proxy process (every thread) per request, counted by valgrind's "+
		"callgrind: each proxy runs under callgrind (Go programs with GODEBUG=asyncpreemptoff=1, which callgrind needs); "+
		"per case a warm-up of a quarter of the requests, then callgrind_control --zero, then %d requests "+
		"(%d for the 1 MB cases) over %d keep-alive connections, then callgrind_control --dump. "+
		"The counts do not depend on the machine's load; they repeat within about 1%%. "+
		"(b) is bench/cmd/plainproxy, a tuned net/http/httputil.ReverseProxy; (n) is nginx with one process, "+
		"no access log and keep-alive to the upstream. Every fieldseal answer was checked to hold the opened plaintext.\n\n",
		r.opts.instrRequests, max(r.opts.instrRequests/50, 10), instrConns)

	b.WriteString("| workload | target | instructions/request | / (b) | / nginx | per response byte |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: |\n")
	var groups []string
	for _, x := range r.results {
		if len(groups) == 0 || groups[len(groups)-1] != x.c.group {
			groups = append(groups, x.c.group)
		}
	}
	for _, g := range groups {
		base, ng := r.find(g, itPlain), r.find(g, itNginx)
		for _, x := range r.results {
			if x.c.group != g {
				continue
			}
			name := string(x.c.target)
			if x.c.id == "auth-get-off" {
				name += ", auth off (same request)"
			}
			if x.err != nil {
				fmt.Fprintf(b, "| %s | %s | %s | | | |\n", g, name, strings.ReplaceAll(firstLine(x.err.Error()), "|", "/"))
				continue
			}
			ratio := func(y *instrResult) string {
				if y == nil {
					return "-"
				}
				return fmt.Sprintf("%.2fx", x.perRequest()/y.perRequest())
			}
			perByte := "-"
			if x.bytesIn > 0 {
				perByte = fmt.Sprintf("%.1f", x.instructions/float64(x.bytesIn))
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", g, name, thousands(x.perRequest()), ratio(base), ratio(ng), perByte)
			if x.restarts > 0 {
				r.notes = append(r.notes, fmt.Sprintf("%s, %s: the process died under callgrind %d time(s) and was restarted; the row is from a fresh process.", g, x.c.target, x.restarts))
			}
		}
	}

	b.WriteString("\n## Targets (issue 14)\n\n| comparison | value | target |\n| --- | --- | --- |\n")
	cmp := func(label string, a, bb *instrResult, target string) {
		if a != nil && bb != nil {
			fmt.Fprintf(b, "| %s | %.2fx (%s / %s) | %s |\n", label, a.perRequest()/bb.perRequest(), thousands(a.perRequest()), thousands(bb.perRequest()), target)
		}
	}
	cmp("authenticated / unauthenticated GET 1 KB (fieldseal), the same request (bearer header sent to both)", r.find(grpAuthGet, itAuth), r.find(grpAuthGet, itFieldseal), "<= 1.15x")
	cmp("authenticated GET 1 KB / unauthenticated GET 1 KB without the header (fieldseal)", r.find(grpAuthGet, itAuth), r.find(grpOpenGet, itFieldseal), "-")
	cmp("gzip / plain response GET 1 KB (fieldseal)", r.find(grpGzipGet, itFieldseal), r.find(grpOpenGet, itFieldseal), "<= 3x")
	cmp("seal 5 fields POST 1 KB / (b)", r.find(grpSealPost, itFieldseal), r.find(grpSealPost, itPlain), "<= 1.5x")
	cmp("open 5 fields GET 1 KB / (b)", r.find(grpOpenGet, itFieldseal), r.find(grpOpenGet, itPlain), "<= 1.3x")
	if x, y := r.find(grpBigGet, itFieldseal), r.find(grpBigGet, itPlain); x != nil && y != nil {
		fmt.Fprintf(b, "| instructions per byte to open a 1 MB document (fieldseal, above (b)) | %.1f (%.1f) | <= 12 |\n",
			x.perRequest()/workload.LargeSize, (x.perRequest()-y.perRequest())/workload.LargeSize)
	}
}

func thousands(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// toolVersion is the first line a tool prints for its version flag, or
// "absent".
func toolVersion(bin, flag string) string {
	if bin == "" {
		return "absent"
	}
	out, err := exec.Command(bin, flag).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "absent"
	}
	return strings.TrimSpace(firstLine(string(out)))
}
