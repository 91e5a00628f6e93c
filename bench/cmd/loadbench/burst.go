package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fieldseal/fieldseal/bench/measure"
	"github.com/fieldseal/fieldseal/bench/workload"
)

// The burst mode measures what large documents cost in memory: a fresh
// proxy process, its RSS once ready, then rounds of burstConns concurrent
// POSTs of the 1 MB document (sealed by fieldseal and echoed back by the
// upstream), its peak RSS (VmHWM) after them, and its RSS while it then
// sits idle, which shows whether memory goes back to the operating system
// or stays with the process.

// burstConns is the number of concurrent 1 MB POSTs in one round.
const burstConns = 32

// burstResult is one target's memory over a burst.
type burstResult struct {
	target   string
	idle     uint64      // RSS once ready
	peak     uint64      // VmHWM after the rounds
	after    []rssSample // RSS while idle after the rounds, from the end of the last round
	requests int
	err      error
}

// runBurst measures (b), nginx and fieldseal in turn.
func (h *harness) runBurst(ctx context.Context) []burstResult {
	targets := []struct {
		id, name string
		start    func() (*proc, string, error)
	}{
		{"burst-b", "(b) plain ReverseProxy", func() (*proc, string, error) {
			p, listen, _, err := h.startPlain(ctx, "burst-plain", nil)
			return p, listen, err
		}},
		{"burst-n", "(n) nginx", func() (*proc, string, error) {
			if nginxBinary() == "" {
				return nil, "", errors.New("skipped: " + errNoNginx)
			}
			return h.startNginx(ctx, "burst-nginx", nil)
		}},
		{"burst-fs", "fieldseal, seal 5 fields in, open 5 in the echo", func() (*proc, string, error) {
			if h.bins["fieldseal"] == "" {
				return nil, "", errNoFieldseal
			}
			p, listen, _, err := h.startFieldseal(ctx, "burst-fieldseal")
			return p, listen, err
		}},
	}
	var out []burstResult
	for _, t := range targets {
		if ctx.Err() != nil {
			break
		}
		if !h.opts.cases.MatchString(t.id) {
			continue
		}
		step(fmt.Sprintf("burst: %s: %d rounds of %d concurrent 1 MB POSTs, then %v idle", t.name, h.opts.burstRounds, burstConns, h.opts.burstIdle))
		r := h.burstOne(ctx, t.name, t.start)
		if r.err != nil {
			step(fmt.Sprintf("  FAILED: %v", r.err))
		} else {
			step(fmt.Sprintf("  idle %s MB, peak %s MB, after %s MB", mb(r.idle), mb(r.peak), mb(r.after[len(r.after)-1].rss)))
		}
		out = append(out, r)
	}
	return out
}

func (h *harness) burstOne(ctx context.Context, name string, start func() (*proc, string, error)) burstResult {
	res := burstResult{target: name}
	p, listen, err := start()
	if err != nil {
		res.err = err
		return res
	}
	defer p.stop()
	mem, err := measure.ReadMemory(p.pid())
	if err != nil {
		res.err = err
		return res
	}
	res.idle = mem.RSS
	doc := workload.Large()
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: burstConns}}
	defer client.CloseIdleConnections()
	for range h.opts.burstRounds {
		var wg sync.WaitGroup
		errs := make([]error, burstConns)
		for i := range burstConns {
			wg.Go(func() { errs[i] = burstPost(ctx, client, "http://"+listen+workload.PathSealedLargePost, doc) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			res.err = err
			return res
		}
		res.requests += burstConns
	}
	client.CloseIdleConnections()
	begin := time.Now()
	for {
		mem, err := measure.ReadMemory(p.pid())
		if err != nil {
			res.err = err
			return res
		}
		res.peak = mem.Peak
		res.after = append(res.after, rssSample{at: time.Since(begin).Round(time.Second), rss: mem.RSS})
		if time.Since(begin) >= h.opts.burstIdle {
			return res
		}
		select {
		case <-ctx.Done():
			res.err = ctx.Err()
			return res
		case <-time.After(min(15*time.Second, h.opts.burstIdle)):
		}
	}
}

// burstPost sends the document and checks that the echo is as long as it
// should be for the target: the same document (a plain proxy, or fieldseal
// opening what it sealed).
func burstPost(ctx context.Context, client *http.Client, url string, doc []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(doc))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 || n != int64(len(doc)) {
		return fmt.Errorf("POST %s: status %d, %d bytes back, want %d", url, resp.StatusCode, n, len(doc))
	}
	return nil
}

// burstMarkdown is the burst section of a report.
func burstMarkdown(rs []burstResult, o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Large documents: %d rounds of %d concurrent 1 MB POSTs\n\n", o.burstRounds, burstConns)
	fmt.Fprintf(&b, "Each target is a fresh process. POST %s with the 1 MB document (fieldseal seals its 5 fields and opens them in the echo). "+
		"RSS is /proc/PID/status VmRSS, peak is VmHWM; \"after\" samples RSS while the process sits idle once the rounds are over.\n\n", workload.PathSealedLargePost)
	b.WriteString("| target | idle RSS MB | peak RSS MB | RSS after, MB (seconds idle) |\n| --- | ---: | ---: | --- |\n")
	for _, r := range rs {
		if r.err != nil {
			fmt.Fprintf(&b, "| %s | %s | | |\n", r.target, strings.ReplaceAll(firstLine(r.err.Error()), "|", "/"))
			continue
		}
		var after []string
		for _, s := range r.after {
			after = append(after, fmt.Sprintf("%s (%ds)", mb(s.rss), int(s.at.Seconds())))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.target, mb(r.idle), mb(r.peak), strings.Join(after, ", "))
	}
	return b.String()
}
