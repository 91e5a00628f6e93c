package testproc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// execTimeout bounds one run of a one-shot command: a key command that
// talks to an emulator on a loaded machine takes a few seconds.
const execTimeout = 60 * time.Second

// Cmd says how Exec runs a one-shot command. The zero value runs it in the
// test's directory with the test's environment and no input.
type Cmd struct {
	Dir   string   // working directory ("" = the test's)
	Env   []string // added to the test's environment ("K=V")
	Stdin []byte   // its standard input
}

// Result is what a one-shot command left behind.
type Result struct {
	Stdout, Stderr []byte
	Code           int // exit status; 0 for success
}

// Exec runs program with args to completion (at most 60 s) and returns its
// output and exit status. It fails the test only when the program cannot be
// run or does not finish in time; a non-zero exit is the caller's to judge.
func Exec(t testing.TB, c Cmd, program string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Dir = c.Dir
	if c.Env != nil {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	cmd.Stdin = bytes.NewReader(c.Stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	res := Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		res.Code = exit.ExitCode()
	default:
		t.Fatalf("run %s %s: %v\n%s", program, strings.Join(args, " "), err, errb.Bytes())
	}
	return res
}

// MustExec is Exec for a command that must succeed: it returns stdout and
// fails the test, printing stderr, on a non-zero exit.
func MustExec(t testing.TB, c Cmd, program string, args ...string) []byte {
	t.Helper()
	res := Exec(t, c, program, args...)
	if res.Code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", program, strings.Join(args, " "), res.Code, res.Stderr)
	}
	return res.Stdout
}
