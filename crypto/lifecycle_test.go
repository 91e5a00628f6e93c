package crypto

import (
	"errors"
	"testing"
)

func TestLifecycleRules(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "" = allowed
	}{
		{"a held version other than the primary may change", CheckVersionChange(1, 2, true), ""},
		{"a version the ring does not hold is refused", CheckVersionChange(7, 2, false), "key lifecycle change refused: no key v7"},
		{"the primary is refused", CheckVersionChange(2, 2, true), "key lifecycle change refused: v2 is the primary; rotate first"},
		{"a minimum up to the primary is allowed", CheckMinVersion(2, 2), ""},
		{"a minimum above the primary is refused", CheckMinVersion(3, 2), "key lifecycle change refused: minimum v3 is above the primary v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.want == "" && tt.err != nil:
				t.Errorf("refused: %v", tt.err)
			case tt.want != "" && (tt.err == nil || tt.err.Error() != tt.want || !errors.Is(tt.err, ErrLifecycle)):
				t.Errorf("got %v, want %q wrapping ErrLifecycle", tt.err, tt.want)
			}
		})
	}
}
