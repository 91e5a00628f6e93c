package testproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildTimeout bounds one `go build`; a cold build of cmd/fieldseal on a
// shared two-core machine takes about a minute.
const buildTimeout = 5 * time.Minute

// RunWithBuild builds the Go main package pkg (as `go build` names it,
// relative to the test's directory) into a temporary directory, stores the
// binary's path in *bin, runs the tests, removes the build and returns the
// exit code for os.Exit. A test binary thus builds the program once, however
// many of its tests start it. A failed build fails the run before any test.
func RunWithBuild(m *testing.M, pkg string, bin *string) int {
	dir, err := os.MkdirTemp("", "fieldseal-build-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*bin = filepath.Join(dir, filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", *bin, pkg).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, out)
		return 1
	}
	return m.Run()
}
