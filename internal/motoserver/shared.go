package motoserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// EnvURL names the environment variable through which .ci/aws-emulators.sh
// hands its moto_server to the tests.
const EnvURL = "FIELDSEAL_TEST_MOTO_URL"

// shared is the moto_server Shared started for this test binary, if any.
var shared struct {
	mu   sync.Mutex
	url  string
	fail string // why it did not start; later callers fail with it
	proc *testproc.Process
	dir  string
}

// Shared returns the endpoint of a moto_server the tests of one binary
// share, for tests that only need an emulator (each uses its own secrets
// and keys): the one in $FIELDSEAL_TEST_MOTO_URL when set, otherwise one
// started on a free loopback port at the first call, which RunShared stops
// when the tests end. Without moto_server on PATH the test skips with a
// hint, or fails when CI is "true" (testproc.Missing).
func Shared(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	if _, err := exec.LookPath("moto_server"); err != nil {
		testproc.Missing(t, `moto_server is not on PATH; install and put it there with: eval "$(bash .ci/aws-emulators.sh)"`)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	switch {
	case shared.url != "":
		return shared.url
	case shared.fail != "":
		t.Fatal(shared.fail)
	}
	// Stays set if this start fails the test, for the tests after it.
	shared.fail = "the shared moto_server did not start; see the first test that asked for it"
	dir, err := os.MkdirTemp("", "fieldseal-moto-")
	if err != nil {
		t.Fatalf("shared moto_server: %v", err)
	}
	shared.dir = dir
	port := testproc.FreePort(t)
	p, err := testproc.Launch(testproc.Options{Log: filepath.Join(dir, "moto.log"), LogTail: logTail},
		"moto_server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if err != nil {
		t.Fatalf("shared moto_server: %v", err)
	}
	shared.proc = p
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	p.WaitHTTP(t, url+"/moto-api/", startTimeout, func(int) bool { return true })
	shared.url, shared.fail = url, ""
	return url
}

// RunShared runs the tests and then stops the moto_server Shared started,
// if it started one; call it from TestMain: os.Exit(motoserver.RunShared(m)).
func RunShared(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.proc != nil {
		shared.proc.Stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	return code
}
