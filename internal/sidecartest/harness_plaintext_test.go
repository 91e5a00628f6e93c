package sidecartest

import (
	"fmt"
	"testing"
)

// errorRecorder is a testing.TB that records Errorf instead of failing.
type errorRecorder struct {
	testing.TB
	errors []string
}

func (r *errorRecorder) Helper() {}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestNoPlaintextReportsEveryLeak: NoPlaintext is the only check of what
// some e2e upstreams received, so it must report each body that holds a
// plaintext (once per plaintext found) and stay quiet on sealed bodies.
func TestNoPlaintextReportsEveryLeak(t *testing.T) {
	bodies := [][]byte{
		[]byte(`{"email":"fs1:AwEAAAAB","name":"Ada"}`),
		[]byte(`{"email":"ada@example.com"}`),
		[]byte(`{"phone":"+44 20 7946 0958","email":"ada@example.com"}`),
	}
	for _, tt := range []struct {
		name   string
		bodies [][]byte
		want   int
	}{
		{"sealed only", bodies[:1], 0},
		{"one leak", bodies[:2], 1},
		{"every leak of every body", bodies, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &errorRecorder{TB: t}
			NoPlaintext(r, tt.bodies, "ada@example.com", "+44 20 7946 0958")
			if len(r.errors) != tt.want {
				t.Errorf("reported %d leaks, want %d: %q", len(r.errors), tt.want, r.errors)
			}
		})
	}
}
