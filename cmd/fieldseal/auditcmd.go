package main

import (
	"fmt"
	"io"
	"os"

	"github.com/fieldseal/fieldseal/audit"
)

func runAudit(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	const summary = "Verify an audit log's hash chain: every line's hash, each line's link to the\none before and the sequence numbers. Reports the first broken, removed,\nedited or reordered line and exits 1. Pass --anchor-seq/--anchor-hash (from\nthe fieldseal_audit_last_seq metric or a copy kept elsewhere) to also detect a\ncut tail. FILE - reads stdin."
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintf(stderr, "Usage: fieldseal audit verify [--anchor-seq N --anchor-hash HEX] FILE\n\n%s\n", summary)
		return nil
	}
	sub, rest, err := subcommand(args, "verify")
	if err != nil {
		fmt.Fprintf(stderr, "fieldseal audit: %v\n", err)
		return errUsage
	}
	fs := newFlags("audit "+sub, "audit verify [--anchor-seq N --anchor-hash HEX] FILE", summary, stderr)
	anchorSeq := fs.Uint64("anchor-seq", 0, "expected `SEQ` of the last line (with --anchor-hash)")
	anchorHash := fs.String("anchor-hash", "", "expected `HASH` of the last line")
	if err := parse(fs, rest); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	var r io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rep, err := audit.Verify(r)
	fmt.Fprintln(stdout, rep.String())
	if err != nil {
		fmt.Fprintf(stderr, "fieldseal audit verify: %v\n", err)
		return exitError{code: 1}
	}
	if *anchorHash != "" {
		if err := rep.CheckAnchor(*anchorSeq, *anchorHash); err != nil {
			fmt.Fprintf(stderr, "fieldseal audit verify: %v\n", err)
			return exitError{code: 1}
		}
	}
	return nil
}
