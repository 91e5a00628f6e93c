package sidecartest

import (
	"errors"
	"testing"

	"github.com/fieldseal/fieldseal/lineerr"
)

// WantFileProblems is WantProblems for a decoder that reports where each
// problem stands: err must also be a *lineerr.Error (errors.As) naming
// file, the file name the test gave the decoder.
func WantFileProblems(t testing.TB, err error, file string, want []string) {
	t.Helper()
	WantProblems(t, err, want)
	var le *lineerr.Error
	if !errors.As(err, &le) || le.File != file {
		t.Errorf("error is not a *lineerr.Error in %s: %#v", file, err)
	}
}
