// Package appse2e_test runs issue 16's application behaviours end to end:
// the fieldseal binary built from this repository (started by
// internal/sidecartest) in front of upstreams that behave like the
// applications that broke, asserting on what the upstream received and on
// what the client got back.
package appse2e_test

import (
	"os"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// fieldsealBin is the binary TestMain builds once for every test of the run.
var fieldsealBin string

func TestMain(m *testing.M) {
	os.Exit(sidecartest.RunWithBinary(m, &fieldsealBin))
}

// issuer is sidecartest's test issuer, with the extra claims these tests
// set on a token.
type issuer struct{ *sidecartest.Issuer }

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	return &issuer{sidecartest.NewIssuer(t)}
}

// token signs an access token for clientID with the extra claims.
func (iss *issuer) token(t *testing.T, clientID string, extra map[string]any) string {
	t.Helper()
	c := iss.Claims(clientID, "subject-"+clientID, "")
	for k, v := range extra {
		c[k] = v
	}
	return iss.Sign(t, c)
}
