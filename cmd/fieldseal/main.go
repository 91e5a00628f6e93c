// Command fieldseal is the fieldseal sidecar and its operator tools. The
// Kubernetes injector webhook is cmd/fieldseal-injector, so that this binary,
// which runs in every protected pod, links no Kubernetes modules.
//
// It only wires packages together: parse flags, build components, run, shut
// down. Everything that can be tested lives in the packages it imports.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// command is one subcommand: its usage line, one-line summary and entry point.
type command struct {
	usage   string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// errUsage marks an error already explained by the subcommand's usage text.
var errUsage = errors.New("usage")

// exitError carries a specific exit code (for example `config check`: 1).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func commands() map[string]command {
	return map[string]command{
		"serve":   {"serve --config FILE", "run the sidecar proxy", runServe},
		"config":  {"config check FILE", "validate a config file and its field map", runConfig},
		"keys":    {"keys init|rotate|rotate-lookup|status|verify|backup|restore|retire|min-version|destroy|rewrap|master-key [flags]", "manage the key ring (local or aws provider)", runKeys},
		"encrypt": {"encrypt --config FILE --route NAME [--side request|response]", "seal a JSON document from stdin with a route's field map", runEncrypt},
		"decrypt": {"decrypt --config FILE --route NAME [--side request|response]", "open a JSON document from stdin with a route's field map", runDecrypt},
		"audit":   {"audit verify FILE", "verify an audit log's hash chain", runAudit},
		"version": {"version", "print the version", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		usage(stdout, cmds)
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fieldseal: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	err := c.run(args[1:], stdin, stdout, stderr)
	var ee exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(stderr, "fieldseal %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintf(w, "fieldseal %s: field-level encryption sidecar for JSON APIs\n\nUsage:\n", version)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(cmds[n].usage))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  fieldseal %-*s  %s\n", width, cmds[n].usage, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'fieldseal COMMAND --help' for a command's flags.")
}

// newFlags returns a FlagSet for one subcommand. Asked for with -h or
// --help, its usage line, summary and flags go to stdout (parse then returns
// flag.ErrHelp, exit status 0); after a flag error they go to stderr with
// the error (exit status 2).
func newFlags(name, usageLine, summary string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	help := &helpFlag{stdout: stdout, stderr: stderr}
	fs.Var(help, "help", "print this help on standard output")
	fs.Var(help, "h", "print this help on standard output")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: fieldseal %s\n\n%s\n", usageLine, summary)
		// The flags, without -h/--help, which are listed once at the end.
		others := flag.NewFlagSet(name, flag.ContinueOnError)
		others.SetOutput(w)
		fs.VisitAll(func(f *flag.Flag) {
			if f.Value != help {
				others.Var(f.Value, f.Name, f.Usage)
				others.Lookup(f.Name).DefValue = f.DefValue
			}
		})
		fmt.Fprintln(w, "\nFlags:")
		others.PrintDefaults()
		fmt.Fprintln(w, "  -h, --help\n    \tprint this help on standard output")
	}
	return fs
}

// helpFlag is the value of -h and --help: it records that help was asked
// for, so parse can print it on stdout rather than the flag package's stderr.
type helpFlag struct {
	stdout, stderr io.Writer
	asked          bool
}

func (h *helpFlag) String() string   { return "false" }
func (h *helpFlag) IsBoolFlag() bool { return true }

func (h *helpFlag) Set(v string) error {
	b, err := strconv.ParseBool(v)
	h.asked = h.asked || b
	return err
}

// parse parses args. Help asked for is printed on stdout and reported as
// flag.ErrHelp; flag errors map to errUsage (the FlagSet has already printed
// the problem and the usage on stderr).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if h, ok := fs.Lookup("help").Value.(*helpFlag); ok && h.asked {
		fs.SetOutput(h.stdout)
		fs.Usage()
		fs.SetOutput(h.stderr)
		return flag.ErrHelp
	}
	return nil
}

// subcommand splits "keys init ..." style arguments.
func subcommand(args []string, valid ...string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("missing subcommand: want one of %s", strings.Join(valid, ", "))
	}
	for _, v := range valid {
		if args[0] == v {
			return v, args[1:], nil
		}
	}
	return "", nil, fmt.Errorf("unknown subcommand %q: want one of %s", args[0], strings.Join(valid, ", "))
}

func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("version", "version", "Print the version this binary was built as.", stdout, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, "fieldseal", version)
	return err
}
