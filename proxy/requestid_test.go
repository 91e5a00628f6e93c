package proxy

import "testing"

func TestNewRequestIDsAreDistinctSaneTokens(t *testing.T) {
	ids := newRequestIDs()
	seen := map[string]bool{}
	for range 1000 {
		id := ids.newID()
		if len(id) != 16 || !saneRequestID(id) {
			t.Fatalf("id %q is not 16 hex characters", id)
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				t.Fatalf("id %q is not lower-case hex", id)
			}
		}
		if seen[id] {
			t.Fatalf("id %q handed out twice", id)
		}
		seen[id] = true
	}
	if other := newRequestIDs().newID(); seen[other] {
		t.Errorf("a second proxy's first id %q collides with the first proxy's", other)
	}
}
