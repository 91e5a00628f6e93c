package lineerr

import (
	"errors"
	"fmt"
)

// Error is one problem at a line of a file.
type Error struct {
	// File is the file's name as the user gave it; empty when the problem
	// was found before a file name was known (a package checking a spec on
	// its own), and then filled in by Locate.
	File string
	// Line is 1-based; 0 when the problem has no single line.
	Line int
	// Msg says what is wrong, lower case, without the position.
	Msg string
	// Err is the category errors.Is matches through Unwrap (for example
	// policy.ErrPolicy); nil for none. It is not printed.
	Err error
}

// Errorf returns an *Error at line with a formatted message and no file.
func Errorf(line int, format string, args ...any) *Error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Error prints "FILE:LINE: message", dropping the parts that are unknown
// ("line LINE: message" without a file).
func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Unwrap returns the category, so errors.Is(err, category) holds.
func (e *Error) Unwrap() error { return e.Err }

// Locate returns every problem in err (joined errors are split) as an
// *Error in file: an *Error keeps its own line, or gets line when it has
// none; any other error becomes an *Error at line with prefix (when not
// empty, followed by ": ") before its text, keeping it as the category. It
// returns nil for a nil err.
func Locate(err error, file string, line int, prefix string) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Locate(e, file, line, prefix)...)
		}
		return out
	}
	var le *Error
	if errors.As(err, &le) {
		c := *le
		c.File = file
		if c.Line <= 0 {
			c.Line = line
		}
		return []error{&c}
	}
	msg := err.Error()
	if prefix != "" {
		msg = prefix + ": " + msg
	}
	return []error{&Error{File: file, Line: line, Msg: msg, Err: err}}
}
