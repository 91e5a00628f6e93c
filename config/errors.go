package config

import "fmt"

// Error is one configuration problem at a line of a file. Parse returns
// every problem it finds, each as an *Error, joined with errors.Join.
type Error struct {
	File string
	Line int // 1-based; 0 when the problem has no single line
	Msg  string
}

func (e *Error) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}
