package lineerr

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorPrintsTheKnownParts(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"file and line read like a compiler's", &Error{File: "c.yaml", Line: 3, Msg: "bad"}, "c.yaml:3: bad"},
		{"a problem without a line names the file", &Error{File: "c.yaml", Msg: "file is empty"}, "c.yaml: file is empty"},
		{"a problem without a file names the line", &Error{Line: 7, Msg: "bad"}, "line 7: bad"},
		{"a problem with neither is its message", &Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLocate(t *testing.T) {
	category := errors.New("invalid thing")
	err := errors.Join(
		&Error{Line: 4, Msg: "at its own line", Err: category},
		&Error{Msg: "without a line"},
		fmt.Errorf("%w: plain", category),
	)
	got := Locate(err, "c.yaml", 9, "auth")
	want := []string{"c.yaml:4: at its own line", "c.yaml:9: without a line", "c.yaml:9: auth: invalid thing: plain"}
	if len(got) != len(want) {
		t.Fatalf("Locate = %v, want %d problems", got, len(want))
	}
	for i, e := range got {
		if e.Error() != want[i] {
			t.Errorf("problem %d = %q, want %q", i, e, want[i])
		}
		if i != 1 && !errors.Is(e, category) {
			t.Errorf("problem %d lost its category", i)
		}
	}
	if Locate(nil, "c.yaml", 1, "") != nil {
		t.Error("Locate(nil) is not nil")
	}
}
