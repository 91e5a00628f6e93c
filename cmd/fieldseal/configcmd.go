package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/fieldseal/fieldseal/lineerr"
)

func runConfig(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stderr, "Usage: fieldseal config check FILE\n\nValidate a config file and compile its field map. Every problem is listed\nas FILE:LINE: message; the exit status is 1 when there is any.")
		return nil
	}
	sub, rest, err := subcommand(args, "check")
	if err != nil {
		fmt.Fprintf(stderr, "fieldseal config: %v\n", err)
		return errUsage
	}
	fs := newFlags("config "+sub, "config check FILE", "Validate a config file and compile its field map. Every problem is listed\nas FILE:LINE: message; the exit status is 1 when there is any.", stderr)
	if err := parse(fs, rest); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	cfg, fm, err := compile(fs.Arg(0))
	if err != nil {
		problems := unjoin(err)
		slices.SortStableFunc(problems, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
		for _, p := range problems {
			fmt.Fprintln(stderr, p.msg)
		}
		fmt.Fprintf(stderr, "%d problem(s) in %s\n", len(problems), fs.Arg(0))
		return exitError{code: 1}
	}
	_, err = fmt.Fprintf(stdout, "%s: ok (%d classes, %d routes, key provider %s)\n", fs.Arg(0), len(fm.Classes()), len(cfg.Routes), cfg.Keys.Provider)
	return err
}

// problem is one reported configuration problem and its line (0: none).
type problem struct {
	line int
	msg  string
}

// unjoin flattens errors.Join trees into one problem each, with the line of
// a *lineerr.Error so the listing can be ordered like a compiler's.
func unjoin(err error) []problem {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []problem
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	var ce *lineerr.Error
	line := 0
	if errors.As(err, &ce) {
		line = ce.Line
	}
	return []problem{{line: line, msg: err.Error()}}
}
