package main

import (
	"fmt"
	"io"
	"os"

	"github.com/fieldseal/fieldseal/audit"
)

func runAudit(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	const summary = "Verify an audit log's hash chain: every line's hash, each line's link to the\none before and the sequence numbers. Reports the first broken, removed,\nedited or reordered line and exits 1. Give the audit file and its rotated\ncopies (any order, e.g. audit.log*; decompress .gz first): the chain is\nchecked across them, so a removed file is reported too. A file that starts\nwith a rotation's start line and is given alone verifies on its own and says\nwhich hash it continues from. Pass --genesis to require the chain to begin at\nits first line ever, and --anchor-seq/--anchor-hash (from the\nfieldseal_audit_last_seq metric or a copy kept elsewhere) to also detect a\ncut tail. FILE - reads stdin."
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintf(stdout, "Usage: fieldseal audit verify [--genesis] [--anchor-seq N --anchor-hash HEX] FILE...\n\n%s\n", summary)
		return nil
	}
	sub, rest, err := subcommand(args, "verify")
	if err != nil {
		fmt.Fprintf(stderr, "fieldseal audit: %v\n", err)
		return errUsage
	}
	fs := newFlags("audit "+sub, "audit verify [--genesis] [--anchor-seq N --anchor-hash HEX] FILE...", summary, stdout, stderr)
	genesis := fs.Bool("genesis", false, "require the chain to start at its genesis line (no earlier file removed)")
	anchorSeq := fs.Uint64("anchor-seq", 0, "expected `SEQ` of the last line (with --anchor-hash)")
	anchorHash := fs.String("anchor-hash", "", "expected `HASH` of the last line")
	if err := parse(fs, rest); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	var rep audit.Report
	if fs.NArg() == 1 && fs.Arg(0) == "-" {
		rep, err = audit.Verify(os.Stdin)
	} else {
		rep, err = audit.VerifyFiles(fs.Args())
	}
	fmt.Fprintln(stdout, rep.String())
	if err != nil {
		fmt.Fprintf(stderr, "fieldseal audit verify: %v\n", err)
		return exitError{code: 1}
	}
	if *genesis && rep.Continues() {
		fmt.Fprintf(stderr, "fieldseal audit verify: %v: the chain continues from seq %d, whose file was not given (removed?)\n", audit.ErrBroken, rep.FirstSeq-1)
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
