package testproc

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
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
// ago and that no earlier call in this process returned. Another process
// may take it before the caller listens; on loopback in a test run that is
// rare enough to accept. The kernel may hand a just-closed port out again,
// so without the record two calls in a row (a sidecar's proxy and admin
// addresses) could get the same port.
func FreePort(t testing.TB) int {
	t.Helper()
	freePorts.Lock()
	defer freePorts.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free loopback port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !freePorts.given[port] {
			freePorts.given[port] = true
			return port
		}
	}
	t.Fatalf("find a free loopback port: 100 ports in a row were handed out before")
	return 0
}

// freePorts records the ports FreePort returned in this process.
var freePorts = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// FreeAddr is FreePort as a listen address, "127.0.0.1:port".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// OtherUsersDir makes a new directory that every user of the machine can
// enter and list (mode 0755), under the system's temporary directory
// (t.TempDir's parent is private to the user running the test), named
// with prefix, and removes it when the test ends. It is for tests that run
// a binary as other users; copy is the path of a program to place in it
// (mode 0755, as name) or "" for none. It returns the directory.
func OtherUsersDir(t testing.TB, prefix, copy, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("make a directory other users reach: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("make a directory other users reach: %v", err)
	}
	if copy != "" {
		b, err := os.ReadFile(copy)
		if err != nil {
			t.Fatalf("copy %s for other users: %v", copy, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatalf("copy %s for other users: %v", copy, err)
		}
	}
	return dir
}
