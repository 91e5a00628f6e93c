package testproc

import (
	"net"
	"os"
	"strconv"
	"testing"
)

// Missing reports that something a test needs (a tool, an emulator, an
// environment variable) is not there: it skips the test with msg, which
// should say how to provide it, or fails the test when the environment
// variable CI is "true", because in CI no test may skip.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: this test may not skip)")
	}
	t.Skip(msg)
}

// FreePort returns a 127.0.0.1 port that nothing listened on a moment
// ago. Another process may take it before the caller listens; on loopback in
// a test run that is rare enough to accept.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is FreePort as a listen address, "127.0.0.1:port".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
