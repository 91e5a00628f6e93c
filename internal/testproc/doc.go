// Package testproc runs the real programs an end-to-end test needs (the
// fieldseal binary, json-server, emulators, etcd, kube-apiserver) as child
// processes of the test, on loopback ports, and cleans up after them.
//
// Invariants:
//   - Every process started with Start is stopped when its test ends: SIGTERM to
//     its whole process group, then SIGKILL after Options.Grace (at once when
//     Grace is zero), so no child outlives the test, even one a wrapper script
//     or pyenv shim forked.
//   - A process's stdout and stderr go to a log file; when the test fails, the
//     output of that run is printed with the test's log.
//   - Waiting is bounded: Poll, WaitFileContains and Process.WaitUntil fail the test when their
//     deadline passes, and WaitUntil fails at once if the process exits first,
//     printing its output.
//   - One-shot commands run through Exec (or MustExec, which fails the test on
//     a non-zero exit), bounded by a timeout; an in-process server runs through
//     Go, which cancels it when the test ends and fails the test unless it
//     returns nil.
//   - Poll is the one polling helper: every wait for a condition uses it.
//   - A missing tool skips the test with a hint (Missing), except when CI is
//     "true": there every test must run, so it fails instead.
//   - FreePort never returns the same port twice in one process.
//   - Record is how a test checks a test helper: it runs the helper with a
//     testing.TB that records its Fatal, Skip, Errorf or panic.
//
// Use:
//
//	func TestMain(m *testing.M) { os.Exit(testproc.RunWithBuild(m, "../../cmd/fieldseal", &fieldsealBin)) }
//
//	port := testproc.FreePort(t)
//	p := testproc.Start(t, testproc.Options{Grace: 10 * time.Second}, fieldsealBin, "serve", "--config", cfg)
//	p.WaitHTTP(t, adminURL+"/readyz", 30*time.Second, nil)
//
// It is a test-support package: its functions take a testing.TB and fail
// the test rather than return errors.
package testproc
