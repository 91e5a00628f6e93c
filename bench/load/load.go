package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Options describe one load run.
type Options struct {
	URL         string        // http://127.0.0.1:PORT/path
	Method      string        // GET or POST
	Body        []byte        // sent with Content-Type: application/json when not empty
	Connections int           // keep-alive connections, one worker each
	Duration    time.Duration // how long requests are sent (or scheduled)
	Rate        float64       // requests per second over all connections; 0 = closed loop
	Timeout     time.Duration // per-request I/O deadline; 0 = 5s
}

// Result is what a run measured. Latencies are of successful requests only.
type Result struct {
	Requests int64         `json:"requests"` // completed with a 2xx status
	Errors   int64         `json:"errors"`   // transport errors and non-2xx answers
	Statuses map[int]int64 `json:"statuses"` // answers by status code
	Missed   int64         `json:"missed"`   // open loop: scheduled but never sent
	Elapsed  time.Duration `json:"elapsed_ns"`
	RPS      float64       `json:"rps"` // Requests / Elapsed
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	P999     time.Duration `json:"p999_ns"`
	Max      time.Duration `json:"max_ns"`
}

// lateGrace bounds how long an open-loop run keeps draining requests that
// were scheduled before the end but not yet sent; the rest count as Missed.
const lateGrace = 2 * time.Second

// Run sends load as described by o until o.Duration has passed or ctx ends.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Connections < 1 {
		return Result{}, fmt.Errorf("load %s: connections must be at least 1", o.URL)
	}
	if o.Duration <= 0 {
		return Result{}, fmt.Errorf("load %s: duration must be positive", o.URL)
	}
	if o.Rate < 0 {
		return Result{}, fmt.Errorf("load %s: rate must not be negative", o.URL)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	raw, addr, err := serialise(o)
	if err != nil {
		return Result{}, err
	}

	workers := make([]*worker, o.Connections)
	for i := range workers {
		workers[i] = &worker{addr: addr, req: raw, timeout: o.Timeout, statuses: map[int]int64{}}
	}
	// Connect every worker before the clock starts, so connection set-up is
	// not charged to the first requests' latency.
	dialErrs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() { dialErrs[i] = w.dial() })
	}
	wg.Wait()
	if err := errors.Join(dialErrs...); err != nil {
		for _, w := range workers {
			w.close()
		}
		return Result{}, fmt.Errorf("load %s: connect: %w", o.URL, err)
	}

	start := time.Now()
	end := start.Add(o.Duration)
	var missed int64
	if o.Rate == 0 {
		for _, w := range workers {
			wg.Go(func() { w.closedLoop(ctx, end) })
		}
		wg.Wait()
	} else {
		jobs := make(chan time.Time, 1<<16)
		var pacerMissed int64
		wg.Go(func() { pacerMissed = pace(ctx, jobs, start, end, o.Rate) })
		var workersWG sync.WaitGroup
		for _, w := range workers {
			workersWG.Go(func() { w.openLoop(ctx, jobs, end.Add(lateGrace)) })
		}
		workersWG.Wait()
		wg.Wait()
		missed = pacerMissed
	}

	return merge(workers, start, missed), nil
}

// serialise renders the request once with net/http, so every send is one
// write of identical bytes.
func serialise(o Options) (raw []byte, addr string, err error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, "", fmt.Errorf("load: url %q must be http://host:port/path", o.URL)
	}
	req, err := http.NewRequest(o.Method, o.URL, bytes.NewReader(o.Body))
	if err != nil {
		return nil, "", fmt.Errorf("load %s: build request: %w", o.URL, err)
	}
	if len(o.Body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		return nil, "", fmt.Errorf("load %s: serialise request: %w", o.URL, err)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return buf.Bytes(), addr, nil
}

// paceGrid is the pacer's resolution: requests due within one grid step are
// released together at the step's boundary.
const paceGrid = time.Millisecond

// pace releases one job per 1/rate seconds from start until end. It wakes once
// per paceGrid (a timer per request would cost more than the request at high
// rates, and the runtime's timers have about a millisecond's resolution
// anyway) and queues every job due by then, stamped with its grid boundary:
// the time the schedule says it must be sent. Latency counts from that stamp,
// so a late wake-up or a busy connection is charged to the request (no
// coordinated omission) while the grid itself adds nothing. It returns how
// many jobs found the queue full (the workers could not keep up at all).
func pace(ctx context.Context, jobs chan<- time.Time, start, end time.Time, rate float64) (missed int64) {
	defer close(jobs)
	tick := time.NewTicker(paceGrid)
	defer tick.Stop()
	for i := int64(0); ; {
		now := time.Now()
		for {
			offset := time.Duration(float64(i) * float64(time.Second) / rate)
			if !start.Add(offset).Before(end) {
				return missed
			}
			due := start.Add((offset + paceGrid - 1) / paceGrid * paceGrid)
			if due.After(now) {
				break
			}
			select {
			case jobs <- due:
			default:
				missed++
			}
			i++
		}
		select {
		case <-ctx.Done():
			return missed
		case <-tick.C:
		}
	}
}

type worker struct {
	addr    string
	req     []byte
	timeout time.Duration

	conn net.Conn
	br   *bufio.Reader

	latencies []time.Duration
	statuses  map[int]int64
	errors    int64
	missed    int64
	last      time.Time // when the last answer arrived
}

func (w *worker) closedLoop(ctx context.Context, end time.Time) {
	defer w.close()
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		w.do(t0)
	}
}

func (w *worker) openLoop(ctx context.Context, jobs <-chan time.Time, hardEnd time.Time) {
	defer w.close()
	for at := range jobs {
		if ctx.Err() != nil || !time.Now().Before(hardEnd) {
			w.missed++
			continue
		}
		w.do(at)
	}
}

// do sends one request and records its latency from since.
func (w *worker) do(since time.Time) {
	status, err := w.roundTrip()
	now := time.Now()
	w.last = now
	if err != nil {
		w.errors++
		w.close()
		return
	}
	w.statuses[status]++
	if status < 200 || status > 299 {
		w.errors++
		return
	}
	w.latencies = append(w.latencies, now.Sub(since))
}

func (w *worker) roundTrip() (int, error) {
	if w.conn == nil {
		if err := w.dial(); err != nil {
			return 0, err
		}
	}
	if err := w.conn.SetDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, err
	}
	if _, err := w.conn.Write(w.req); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.Close {
		w.close()
	}
	return resp.StatusCode, nil
}

func (w *worker) dial() error {
	c, err := net.DialTimeout("tcp", w.addr, w.timeout)
	if err != nil {
		return err
	}
	w.conn = c
	if w.br == nil {
		w.br = bufio.NewReaderSize(c, 32<<10)
	} else {
		w.br.Reset(c)
	}
	return nil
}

func (w *worker) close() {
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}

func merge(workers []*worker, start time.Time, missed int64) Result {
	r := Result{Statuses: map[int]int64{}, Missed: missed}
	var n int
	for _, w := range workers {
		n += len(w.latencies)
	}
	all := make([]time.Duration, 0, n)
	var last time.Time
	for _, w := range workers {
		all = append(all, w.latencies...)
		r.Errors += w.errors
		r.Missed += w.missed
		for s, c := range w.statuses {
			r.Statuses[s] += c
		}
		if w.last.After(last) {
			last = w.last
		}
	}
	r.Requests = int64(len(all))
	if !last.IsZero() {
		r.Elapsed = last.Sub(start)
	}
	if r.Elapsed > 0 {
		r.RPS = float64(r.Requests) / r.Elapsed.Seconds()
	}
	slices.Sort(all)
	r.P50 = Percentile(all, 0.50)
	r.P99 = Percentile(all, 0.99)
	r.P999 = Percentile(all, 0.999)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	return r
}

// Percentile returns the nearest-rank q-quantile (0 < q <= 1) of sorted
// latencies: the smallest value with at least q of the samples at or below it.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The small epsilon keeps exact ranks exact: 0.99*100 is 98.99999999999999.
	rank := int(math.Ceil(q*float64(len(sorted)) - 1e-9))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// ErrNoSuccess is returned by Check when a run completed no request.
var ErrNoSuccess = errors.New("no successful request")

// Check reports a run that measured nothing useful: no successful request, or
// errors, so a report never shows numbers from a broken setup as if valid.
func Check(r Result) error {
	if r.Requests == 0 {
		return ErrNoSuccess
	}
	if r.Errors > 0 {
		return fmt.Errorf("%d of %d requests failed (statuses %v)", r.Errors, r.Requests+r.Errors, r.Statuses)
	}
	return nil
}
