package requestid

import (
	"strings"
	"testing"
)

func TestGeneratorHandsOutDistinctSaneTokens(t *testing.T) {
	g := NewGenerator()
	seen := map[string]bool{}
	for range 1000 {
		id := g.Next()
		if len(id) != 16 || !Sane(id) || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 16 lower-case hex characters", id)
		}
		if seen[id] {
			t.Fatalf("id %q handed out twice", id)
		}
		seen[id] = true
	}
	if other := NewGenerator().Next(); seen[other] {
		t.Errorf("a second generator's first id %q collides with the first one's", other)
	}
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
