package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/lineerr"
)

func runConfig(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintln(stdout, "Usage: fieldseal config check FILE\n\nValidate a config file and compile its field map. Every problem is listed\nas FILE:LINE: message; the exit status is 1 when there is any.")
		return nil
	}
	sub, rest, err := subcommand(args, "check")
	if err != nil {
		fmt.Fprintf(stderr, "fieldseal config: %v\n", err)
		return errUsage
	}
	fs := newFlags("config "+sub, "config check FILE", "Validate a config file and compile its field map. Every problem is listed\nas FILE:LINE: message; the exit status is 1 when there is any.", stdout, stderr)
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
	warnings := keyFileWarnings(cfg, fs.Arg(0))
	for _, w := range warnings {
		fmt.Fprintln(stderr, w)
	}
	note := ""
	if len(warnings) > 0 {
		note = ", " + count(len(warnings), "warning")
	}
	_, err = fmt.Fprintf(stdout, "%s: ok (%s, %s, key provider %s%s)\n", fs.Arg(0), count(len(fm.Classes()), "class"), count(len(cfg.Routes), "route"), cfg.Keys.Provider, note)
	return err
}

// keyFileWarnings lists, as FILE:LINE: warning: ..., the local provider's
// key files that do not exist yet, each with the command that creates it.
// They are warnings, not problems: a config is usually checked before its
// keys are made (in an image build, or before `keys init` runs). cfg's paths
// are already resolved against the config's directory; file is the path
// the user gave, for the commands to repeat.
func keyFileWarnings(cfg *config.Config, file string) []string {
	if cfg.Keys.Provider != config.ProviderLocal {
		return nil
	}
	l := cfg.Keys.Local
	var out []string
	warn := func(key, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s:%d: warning: %s %s", file, cfg.Line(key), key, fmt.Sprintf(format, args...)))
	}
	if l.MasterKeyFile != "" && missing(l.MasterKeyFile) {
		warn("keys.local.master_key_file", "%q does not exist yet; create it with `(umask 077; mkdir -p %s && fieldseal keys master-key > %s)`", l.MasterKeyFile, filepath.Dir(l.MasterKeyFile), l.MasterKeyFile)
	}
	if l.MasterKeyFile == "" && l.MasterKeyEnv != "" && os.Getenv(l.MasterKeyEnv) == "" {
		warn("keys.local.master_key_env", "%s is not set here; serve and keys commands need it (create a key with `fieldseal keys master-key`)", l.MasterKeyEnv)
	}
	if l.RingFile != "" && missing(l.RingFile) {
		warn("keys.local.ring_file", "%q does not exist yet; create it with `fieldseal keys init --config %s`", l.RingFile, file)
	}
	return out
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

// count writes n and noun, in the plural unless n is 1 ("1 class", "3 routes").
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
