package crypto

import (
	"fmt"
	"testing"
)

// TestHeaderNames pins the names the header bytes print as: the config
// spelling of modes, FORMAT.md's algorithm names, the JSON type names, and
// a fallback for bytes read from a value that no name covers.
func TestHeaderNames(t *testing.T) {
	tests := []struct {
		v    fmt.Stringer
		want string
	}{
		{ModeRandom, "random"}, {ModeDeterministic, "deterministic"}, {Mode(0), "mode(0)"}, {Mode(9), "mode(9)"},
		{AlgAESGCM, "aes-256-gcm"}, {AlgAESSIV, "aes-siv"}, {AlgXAESGCM, "xaes-256-gcm"}, {Alg(255), "alg(255)"},
		{TypeString, "string"}, {TypeNumber, "number"}, {TypeBool, "boolean"}, {TypeNull, "null"},
		{TypeObject, "object"}, {TypeArray, "array"}, {JSONType(0), "type(0)"}, {JSONType(7), "type(7)"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%T(%v) prints %q, want %q", tt.v, tt.want, got, tt.want)
		}
	}
}
