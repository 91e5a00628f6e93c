package sidecartest

import (
	"syscall"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// Restart stops the sidecar (SIGTERM, draining) and starts `fieldseal serve`
// again on the same directory and config, with env added to the test's
// environment (the first Start's Config.Env is not repeated), and waits
// (at most 30 s) until /readyz answers 200.
func (s *Sidecar) Restart(t testing.TB, env ...string) {
	t.Helper()
	s.Proc.Stop()
	s.Proc = testproc.Start(t, testproc.Options{Dir: s.Dir, Env: env, Grace: 10 * time.Second}, s.Bin, "serve", "--config", s.ConfigFile)
	s.Proc.WaitHTTP(t, s.AdminURL+"/readyz", 30*time.Second, nil)
}

// Reload sends SIGHUP: the sidecar reloads its field map and reopens its
// audit file.
func (s *Sidecar) Reload(t testing.TB) {
	t.Helper()
	if err := s.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("signal fieldseal: %v", err)
	}
}
