package requestid

import (
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

func TestGeneratorHandsOutDistinctSaneTokens(t *testing.T) {
	sidecartest.WantDistinctRequestIDs(t, NewGenerator().Next, func() string { return NewGenerator().Next() }, Sane)
}

func TestFromHeader(t *testing.T) {
	g := NewGenerator()
	for _, tc := range []struct {
		name, in string
		kept     bool
	}{
		{"a client's token is kept", "client-req.1:a_B", true},
		{"an empty id is replaced", "", false},
		{"an id with a space is replaced", "a b", false},
		{"an id with a newline is replaced", "a\nb", false},
		{"an over-long id is replaced", strings.Repeat("a", MaxLen+1), false},
		{"an id of MaxLen is kept", strings.Repeat("a", MaxLen), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := g.FromHeader(tc.in)
			if (got == tc.in) != tc.kept || !Sane(got) {
				t.Errorf("FromHeader(%q) = %q, kept = %v, want kept = %v", tc.in, got, got == tc.in, tc.kept)
			}
		})
	}
}
