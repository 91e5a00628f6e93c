package testproc

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options say how Start runs a process. The zero value runs it in the
// test's directory with the test's environment, logs to a fresh file, and
// kills it at once when the test ends.
type Options struct {
	// Dir is the working directory ("" = the test's).
	Dir string
	// Env is added to the test's environment ("K=V").
	Env []string
	// Log is the file that receives stdout and stderr; output is appended,
	// so a restarted process can share its predecessor's log. "" = a file
	// named after the program in a new t.TempDir().
	Log string
	// Grace is how long Stop waits after SIGTERM before it sends SIGKILL.
	// Zero sends SIGKILL at once: an abrupt outage, or a program that has
	// nothing to drain.
	Grace time.Duration
	// LogTail limits what a failed test prints of the output to its last
	// LogTail bytes (0 = all of this run's output).
	LogTail int
}

// Process is a child process started by Start or Launch.
type Process struct {
	name    string
	log     string
	logFrom int64 // size of the log when this run started: its output follows
	logTail int
	grace   time.Duration
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // cmd.Wait's result, set before done is closed
}

// Start runs program with args until the test ends, in a process group of
// its own so that Stop reaches every process it forks. When the test ends
// the process is stopped (see Stop) and, if the test failed, its output is
// printed. Start fails the test if the program cannot be started.
func Start(t testing.TB, opts Options, program string, args ...string) *Process {
	t.Helper()
	if opts.Log == "" {
		opts.Log = filepath.Join(t.TempDir(), filepath.Base(program)+".log")
	}
	p, err := Launch(opts, program, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s:\n%s", filepath.Base(p.log), p.Output())
		}
	})
	return p
}

// Launch is Start for a process that outlives any one test, such as an
// emulator every test of a binary shares: it runs program with args in a
// process group of its own until the caller calls Stop. opts.Log must be
// set. It returns an error if the log cannot be opened or the program
// cannot be started.
func Launch(opts Options, program string, args ...string) (*Process, error) {
	p := &Process{name: filepath.Base(program), log: opts.Log, logTail: opts.LogTail, grace: opts.Grace, done: make(chan struct{})}
	if p.log == "" {
		return nil, fmt.Errorf("launch %s: no log file", p.name)
	}
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", p.name, err)
	}
	if fi, err := logf.Stat(); err == nil {
		p.logFrom = fi.Size()
	}
	p.cmd = exec.Command(program, args...)
	p.cmd.Dir = opts.Dir
	if opts.Env != nil {
		p.cmd.Env = append(os.Environ(), opts.Env...)
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit error (nil for a zero exit status); it is only
// meaningful once Done is closed.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return errors.New("still running")
	}
}

// Output is what this run of the process wrote to its log so far (the last
// Options.LogTail bytes of it, if set).
func (p *Process) Output() []byte {
	f, err := os.Open(p.log)
	if err != nil {
		return []byte(err.Error())
	}
	defer f.Close()
	if _, err := f.Seek(p.logFrom, io.SeekStart); err != nil {
		return []byte(err.Error())
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return []byte(err.Error())
	}
	if p.logTail > 0 && len(b) > p.logTail {
		b = b[len(b)-p.logTail:]
	}
	return b
}

// Signal sends sig to the process group.
func (p *Process) Signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signal %s to %s: %w", sig, p.name, err)
	}
	return nil
}

// Stop ends the process and waits until it has exited: SIGTERM, and SIGKILL
// if it still runs after Options.Grace (at once when Grace is zero). The
// whole process group is signalled. Stopping a stopped process does nothing.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	if p.grace > 0 {
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(p.grace):
		}
	}
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
}

// WaitUntil polls cond (see Poll) and fails the test at once, printing the
// process's output, if the process exits before cond returns nil.
func (p *Process) WaitUntil(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	poll(t, within, p.done, func() { t.Fatalf("%s exited during start-up (%v):\n%s", p.name, p.err, p.Output()) }, cond)
}

// WaitHTTP is WaitUntil with a GET of url as the condition: it holds once
// ready(status) does; a nil ready accepts only 200 OK. Connection errors
// count as not ready.
func (p *Process) WaitHTTP(t testing.TB, url string, within time.Duration, ready func(status int) bool) {
	t.Helper()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	p.WaitUntil(t, within, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if ready == nil && resp.StatusCode == http.StatusOK || ready != nil && ready(resp.StatusCode) {
			return nil
		}
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	})
}

// pollInterval is how often Poll and WaitUntil check their condition.
const pollInterval = 50 * time.Millisecond

// Poll calls cond every 50ms until it returns nil, and fails the test with
// cond's last error if that has not happened within the given time. cond
// runs on the test's goroutine and may itself fail the test.
func Poll(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	poll(t, within, nil, nil, cond)
}

// poll is Poll that also stops, calling exited, when done is closed.
func poll(t testing.TB, within time.Duration, done <-chan struct{}, exited func(), cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-done:
			exited()
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", within, err)
		}
		time.Sleep(pollInterval)
	}
}

// WaitFileContains returns the content of the file at path once it
// contains every string in want, and fails the test if that has not
// happened within the given time. It is for files a process writes after it
// answers (json-server's db file, an audit log): a test waits for the write
// it caused before it inspects the file. A file that cannot be read fails
// the test at once.
func WaitFileContains(t testing.TB, path string, within time.Duration, want ...string) []byte {
	t.Helper()
	var b []byte
	Poll(t, within, func() error {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			t.Fatalf("read %s: %v", filepath.Base(path), err)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				return fmt.Errorf("%s never mentioned %q:\n%s", filepath.Base(path), w, b)
			}
		}
		return nil
	})
	return b
}
