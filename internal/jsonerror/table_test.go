package jsonerror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/fieldseal/fieldseal/crypto"
)

func TestTableClassify(t *testing.T) {
	errOwn := errors.New("own category")
	table := NewTable(NewRow(errOwn, http.StatusTeapot, "own", ""))
	tests := []struct {
		name string
		err  error
		want Class
		ok   bool
	}{
		{"a shared category keeps its row", fmt.Errorf("read: %w", ErrBodyTooLarge), Class{413, "body_too_large", ""}, true},
		{"a listener's own row is tried after the shared ones", fmt.Errorf("x: %w", errOwn), Class{418, "own", ""}, true},
		{"http.MaxBytesError is too large", &http.MaxBytesError{Limit: 1}, Class{413, "body_too_large", ""}, true},
		{"crypto.ErrNoKey means keys are unavailable", fmt.Errorf("seal: %w", crypto.ErrNoKey),
			Class{503, "keys_unavailable", "no encryption keys are loaded yet; retry later"}, true},
		{"a client that went away is canceled", context.Canceled, Canceled, true},
		{"an error no row names is left to the listener", errors.New("surprise"), Class{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := table.Classify(tt.err)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Classify(%v) = %+v %v, want %+v %v", tt.err, got, ok, tt.want, tt.ok)
			}
		})
	}
	t.Run("a listener's table does not change the shared rows", func(t *testing.T) {
		other := NewTable()
		if _, ok := other.Classify(errOwn); ok {
			t.Error("a row of one listener's table leaked into another's")
		}
	})
}

func TestClassMessageAndWireStatus(t *testing.T) {
	err := errors.New("field \"email\": too long")
	if got := (Class{400, "x", ""}).Message(err); got != err.Error() {
		t.Errorf("a 4xx class sends its error's text, got %q", got)
	}
	if got := Internal.Message(err); got != "internal error" {
		t.Errorf("a class with a public message hides the detail, got %q", got)
	}
	if got := Canceled.WireStatus(); got != http.StatusBadGateway {
		t.Errorf("a canceled request writes %d, want 502", got)
	}
	if got := Internal.WireStatus(); got != http.StatusInternalServerError {
		t.Errorf("Internal writes %d, want 500", got)
	}
}
