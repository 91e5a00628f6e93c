package sidecartest

import (
	"errors"
	"testing"

	"github.com/fieldseal/fieldseal/internal/testproc"
	"github.com/fieldseal/fieldseal/lineerr"
)

// TestWantFileProblemsChecksTheFile: the config and strictyaml tests rely
// on it to prove that each problem is a line error of the file they named.
func TestWantFileProblemsChecksTheFile(t *testing.T) {
	want := []string{"c.yaml:3: bad"}
	for _, tt := range []struct {
		name  string
		err   error
		fails bool
	}{
		{"a line error of the file passes", &lineerr.Error{File: "c.yaml", Line: 3, Msg: "bad"}, false},
		{"a line error of another file fails", &lineerr.Error{File: "d.yaml", Line: 3, Msg: "c.yaml:3: bad"}, true},
		{"a plain error with the same text fails", errors.New("c.yaml:3: bad"), true},
		{"no error fails", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testproc.Record(t, func(tb testing.TB) { WantFileProblems(tb, tt.err, "c.yaml", want) })
			if failed := r.Fatal != "" || len(r.Errors) > 0; failed != tt.fails {
				t.Errorf("failed %v, want %v (fatal %q, errors %q)", failed, tt.fails, r.Fatal, r.Errors)
			}
		})
	}
}
