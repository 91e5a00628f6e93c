package sidecartest

import (
	"strings"
	"testing"
)

// WantDistinctRequestIDs checks a request-id generator as the proxy uses
// it: 1000 ids drawn from next are each 16 lower-case hex characters that
// sane accepts, none repeats, and the first id of a second, fresh
// generator (first) is none of them. Passing sane keeps this package free
// of the generator's, so that the generator's own tests can call it.
func WantDistinctRequestIDs(t testing.TB, next, first func() string, sane func(string) bool) {
	t.Helper()
	seen := map[string]bool{}
	for range 1000 {
		id := next()
		if len(id) != 16 || !sane(id) || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 16 lower-case hex characters", id)
		}
		if seen[id] {
			t.Fatalf("id %q handed out twice", id)
		}
		seen[id] = true
	}
	if other := first(); seen[other] {
		t.Errorf("a second generator's first id %q collides with the first one's", other)
	}
}
