package sidecartest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestWantDistinctRequestIDsRefusesBadGenerators: the check the proxy's
// and the generator's tests share passes a counter's distinct hex ids and
// fails on each way a generator can go wrong.
func TestWantDistinctRequestIDsRefusesBadGenerators(t *testing.T) {
	counter := func(start int) func() string {
		n := start
		return func() string { n++; return fmt.Sprintf("%016x", n) }
	}
	all := func(string) bool { return true }
	for _, tt := range []struct {
		name        string
		next, first func() string
		sane        func(string) bool
		fatal       string // part of the Fatal message; "" when none
		errs        int
	}{
		{"distinct lower-case hex ids pass", counter(0), counter(5000), all, "", 0},
		{"a short id fails", func() string { return "abc" }, counter(0), all, "not 16 lower-case hex", 0},
		{"an upper-case id fails", func() string { return "ABCDEF0123456789" }, counter(0), all, "not 16 lower-case hex", 0},
		{"an id sane refuses fails", counter(0), counter(5000), func(string) bool { return false }, "not 16 lower-case hex", 0},
		{"a repeated id fails", func() string { return strings.Repeat("a", 16) }, counter(0), all, "handed out twice", 0},
		{"a second generator starting at the first one's ids fails", counter(0), counter(0), all, "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testproc.Record(t, func(tb testing.TB) { WantDistinctRequestIDs(tb, tt.next, tt.first, tt.sane) })
			if (tt.fatal == "") != (r.Fatal == "") || !strings.Contains(r.Fatal, tt.fatal) || len(r.Errors) != tt.errs {
				t.Errorf("fatal %q, errors %q; want fatal containing %q and %d errors", r.Fatal, r.Errors, tt.fatal, tt.errs)
			}
		})
	}
}
