package proxy

import (
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

func TestNewRequestIDsAreDistinctSaneTokens(t *testing.T) {
	sidecartest.WantDistinctRequestIDs(t, newRequestIDs().newID, func() string { return newRequestIDs().newID() }, saneRequestID)
}
