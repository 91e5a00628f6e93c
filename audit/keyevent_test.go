package audit_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/crypto/keycache"
)

func TestKeyEvent(t *testing.T) {
	t.Run("a rotation is recorded with its versions and revision", func(t *testing.T) {
		e := audit.KeyEvent(keycache.KeyEvent{Kind: keycache.EventRotationSeen, Revision: "rev2", Primary: 2, Versions: []uint32{1, 2}, Duration: 3 * time.Millisecond})
		if e.Type != audit.TypeKey || e.Outcome != keycache.EventRotationSeen || e.Primary != 2 || len(e.KeyIDs) != 2 || e.Revision != "rev2" || e.Reason != "" {
			t.Errorf("event = %+v", e)
		}
	})
	t.Run("a provider error is recorded by category, never by its text", func(t *testing.T) {
		var buf bytes.Buffer
		w, err := audit.New(&buf, audit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		secretish := "AccessDeniedException: arn:aws:kms:eu-west-1:123456789012:key/abc"
		if err := w.Write(audit.KeyEvent(keycache.KeyEvent{Kind: keycache.EventError, Err: errors.New(secretish)})); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), audit.ReasonProviderError) || strings.Contains(buf.String(), "AccessDenied") {
			t.Errorf("audit line = %s", buf.String())
		}
		if _, err := audit.Verify(&buf); err != nil {
			t.Errorf("verify: %v", err)
		}
	})
}
