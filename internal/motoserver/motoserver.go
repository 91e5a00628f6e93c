package motoserver

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// startTimeout bounds moto's start-up: werkzeug and its imports take a few
// seconds on a loaded machine.
const startTimeout = 60 * time.Second

// logTail is how much of moto's log a failed test prints: it logs every
// request, and only the last ones explain a failure.
const logTail = 16 << 10

// Server is a running moto_server owned by one test.
type Server struct {
	// URL is the emulator's endpoint, "http://127.0.0.1:port".
	URL string
	// Port is its loopback port; it stays the same across Restart.
	Port int

	t    testing.TB
	log  string
	proc *testproc.Process
}

// Start runs moto_server on a free loopback port until the test ends and
// returns once it answers.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartOn(t, 0)
}

// StartOn is Start on the given port (0 = a free one), for a test that
// points a client at an address before the emulator exists there.
func StartOn(t testing.TB, port int) *Server {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		testproc.Missing(t, `moto_server is not on PATH; install and put it there with: eval "$(bash .ci/aws-emulators.sh)"`)
	}
	if port == 0 {
		port = testproc.FreePort(t)
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, t: t, log: filepath.Join(t.TempDir(), "moto.log")}
	s.Restart()
	return s
}

// Restart starts moto_server again on the same port after Stop and returns
// once it answers. The new one is empty: moto keeps its state in memory.
// Its output is appended to the same log.
func (s *Server) Restart() {
	s.t.Helper()
	// SIGKILL with no grace: an outage is abrupt, and werkzeug is slow to
	// honour SIGTERM.
	s.proc = testproc.Start(s.t, testproc.Options{Log: s.log, LogTail: logTail},
		"moto_server", "-H", "127.0.0.1", "-p", strconv.Itoa(s.Port))
	// Any answer means it serves; /moto-api/ is cheap and exists in every version.
	s.proc.WaitHTTP(s.t, s.URL+"/moto-api/", startTimeout, func(int) bool { return true })
}

// Stop kills moto_server and every process it forked (it may be a pyenv
// shim that runs python) and returns once it has exited. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	s.proc.Stop()
}
