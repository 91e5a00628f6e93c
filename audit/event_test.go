package audit

import (
	"maps"
	"testing"
)

func TestEventAddField(t *testing.T) {
	var e Event
	e.AddField("email", 2, "seal")
	e.AddField("email", 1, "decrypt")
	e.AddField("email", 3, "seal")
	e.AddField("phone", 1, "mask")
	if want := map[string]int{"email": 6, "phone": 1}; !maps.Equal(e.Fields, want) {
		t.Errorf("Fields = %v, want %v", e.Fields, want)
	}
	if want := map[string]string{"email": "seal,decrypt", "phone": "mask"}; !maps.Equal(e.Actions, want) {
		t.Errorf("Actions = %v, want each distinct action once, in the order first seen: %v", e.Actions, want)
	}
}
