package testproc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needShell(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on PATH")
	}
}

func TestStopEndsTheProcess(t *testing.T) {
	needShell(t)
	tests := []struct {
		name    string
		script  string
		grace   time.Duration
		cleanly bool
	}{
		{"a process that honours SIGTERM exits cleanly within the grace", `trap 'exit 0' TERM; echo started; while :; do sleep 0.05; done`, time.Minute, true},
		{"a process that ignores SIGTERM is killed after the grace", `trap '' TERM; echo started; while :; do sleep 0.05; done`, 100 * time.Millisecond, false},
		{"with no grace the process is killed at once", `echo started; while :; do sleep 0.05; done`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Start(t, Options{Grace: tt.grace}, "sh", "-c", tt.script)
			Poll(t, 30*time.Second, func() error {
				if !bytes.Contains(p.Output(), []byte("started")) {
					return errors.New("the script has not started")
				}
				return nil
			})
			p.Stop()
			select {
			case <-p.Done():
			default:
				t.Fatal("Stop returned before the process exited")
			}
			if err := p.Err(); (err == nil) != tt.cleanly {
				t.Errorf("exit error %v, want a clean exit: %v", err, tt.cleanly)
			}
			p.Stop() // a second Stop does nothing
		})
	}
}

func TestStopReachesTheWholeProcessGroup(t *testing.T) {
	needShell(t)
	p := Start(t, Options{}, "sh", "-c", `sleep 60 & echo "child $!"; wait`)
	var child int
	Poll(t, 30*time.Second, func() error {
		_, pid, ok := strings.Cut(strings.TrimSpace(string(p.Output())), "child ")
		if !ok {
			return errors.New("the shell has not started its child")
		}
		var err error
		child, err = strconv.Atoi(pid)
		return err
	})
	p.Stop()
	// The orphaned child is reaped by init; until then it is a zombie.
	Poll(t, 30*time.Second, func() error {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			return nil
		}
		return fmt.Errorf("the shell's child %d still runs: %s", child, stat)
	})
}

func TestRestartedProcessSharesItsLog(t *testing.T) {
	needShell(t)
	log := t.TempDir() + "/shared.log"
	first := Start(t, Options{Log: log}, "sh", "-c", "echo first")
	<-first.Done()
	second := Start(t, Options{Log: log}, "sh", "-c", "echo second")
	<-second.Done()
	all, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if string(all) != "first\nsecond\n" {
		t.Errorf("log = %q, want both runs' output in order", all)
	}
	if got := string(second.Output()); got != "second\n" {
		t.Errorf("second run's Output = %q, want only its own output", got)
	}
}

func TestWaiting(t *testing.T) {
	needShell(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/teapot" {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer up.Close()
	running := func(tb testing.TB) *Process { return Start(tb, Options{}, "sh", "-c", "sleep 60") }

	t.Run("WaitHTTP returns once the URL answers 200", func(t *testing.T) {
		r := Record(t, func(tb testing.TB) { running(tb).WaitHTTP(tb, up.URL, 30*time.Second, nil) })
		if r.Fatal != "" {
			t.Errorf("failed: %s", r.Fatal)
		}
	})
	t.Run("WaitHTTP accepts the statuses ready accepts", func(t *testing.T) {
		r := Record(t, func(tb testing.TB) {
			running(tb).WaitHTTP(tb, up.URL+"/teapot", 30*time.Second, func(s int) bool { return s == http.StatusTeapot })
		})
		if r.Fatal != "" {
			t.Errorf("failed: %s", r.Fatal)
		}
	})
	t.Run("WaitHTTP fails after its deadline with the last status", func(t *testing.T) {
		r := Record(t, func(tb testing.TB) { running(tb).WaitHTTP(tb, up.URL+"/teapot", 200*time.Millisecond, nil) })
		if !strings.Contains(r.Fatal, "status 418") {
			t.Errorf("failure %q does not name the last status", r.Fatal)
		}
	})
	t.Run("WaitUntil fails at once with the output when the process exits", func(t *testing.T) {
		r := Record(t, func(tb testing.TB) {
			p := Start(tb, Options{}, "sh", "-c", "echo boom; exit 3")
			p.WaitUntil(tb, time.Hour, func() error { return errors.New("never ready") })
		})
		if !strings.Contains(r.Fatal, "exited") || !strings.Contains(r.Fatal, "boom") {
			t.Errorf("failure %q does not say the process exited and show its output", r.Fatal)
		}
	})
	t.Run("WaitFileContains returns the file once a later write adds what it waits for", func(t *testing.T) {
		path := t.TempDir() + "/db.json"
		if err := os.WriteFile(path, []byte("first\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		p := Start(t, Options{}, "sh", "-c", `sleep 0.1; echo second >> "$0"`, path)
		got := WaitFileContains(t, path, 30*time.Second, "first", "second")
		if string(got) != "first\nsecond\n" {
			t.Errorf("got %q", got)
		}
		<-p.Done()
	})
	t.Run("WaitFileContains fails after its deadline naming what is missing", func(t *testing.T) {
		path := t.TempDir() + "/db.json"
		if err := os.WriteFile(path, []byte("first\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := Record(t, func(tb testing.TB) { WaitFileContains(tb, path, 100*time.Millisecond, "first", "second") })
		if !strings.Contains(r.Fatal, `"second"`) {
			t.Errorf("failure %q does not name the missing text", r.Fatal)
		}
	})
	t.Run("Poll fails with the condition's last error after its deadline", func(t *testing.T) {
		r := Record(t, func(tb testing.TB) { Poll(tb, 100*time.Millisecond, func() error { return errors.New("still cold") }) })
		if !strings.Contains(r.Fatal, "still cold") {
			t.Errorf("failure %q does not carry the condition's error", r.Fatal)
		}
	})
}

func TestMissing(t *testing.T) {
	tests := []struct {
		name, ci    string
		fatal, skip bool
	}{
		{"outside CI a missing tool skips the test", "", false, true},
		{"in CI a missing tool fails the test", "true", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := Record(t, func(tb testing.TB) { Missing(tb, "tool is not on PATH") })
			if (r.Fatal != "") != tt.fatal || (r.Skip != "") != tt.skip {
				t.Errorf("fatal %q, skip %q; want fatal %v, skip %v", r.Fatal, r.Skip, tt.fatal, tt.skip)
			}
		})
	}
}

func TestFreeAddrCanBeListenedOn(t *testing.T) {
	l, err := net.Listen("tcp", FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

// TestFreePortNeverRepeats: a sidecar's proxy and admin addresses come
// from two calls in a row, and the kernel may hand a just-closed port out
// again; a repeat made the sidecar fail to start (seen once in e2e/api).
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 500 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned port %d twice", p)
		}
		seen[p] = true
	}
}
