package sidecartest

import (
	"testing"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

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
			r := testproc.Record(t, func(tb testing.TB) { NoPlaintext(tb, tt.bodies, "ada@example.com", "+44 20 7946 0958") })
			if len(r.Errors) != tt.want || r.Fatal != "" {
				t.Errorf("reported %d leaks, want %d: %q (fatal %q)", len(r.Errors), tt.want, r.Errors, r.Fatal)
			}
		})
	}
}
