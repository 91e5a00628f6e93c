package adversarye2e_test

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestForgedKeyIDDoesNotBlockReadsAfterARotation: two sidecars share a
// ring; one (refresh 1s, standing in for the process that rotated or saw
// the rotation first) seals under the new v2, the other still serves v1
// and has 15 minutes (the new default refresh) before its next periodic
// refresh. It opens v2 values through an on-demand refresh, limited to
// one per 5s against floods of made-up key ids. One record in the store
// holding a sealed-looking value with a made-up key id, read just before
// the rotation, spends that budget: a v2 value read within the 5s then
// fails (502) instead of waiting for the budget, so the rotation
// interrupts reads on that sidecar.
func TestForgedKeyIDDoesNotBlockReadsAfterARotation(t *testing.T) {
	st, a, ring := newRingSidecar(t)
	shared := fmt.Sprintf("keys:\n  provider: local\n  local:\n    ring_file: %s\n    master_key_file: %s",
		ring, filepath.Join(a.Dir, "master.key"))
	b := sidecartest.New(t, fieldsealBin, sidecartest.Config{Upstream: st.URL(), FieldMap: docFieldMap, Keys: shared})
	a.Serve(t)
	b.Serve(t)
	// A value in the wire format (alg 3, JSON string, key id 4242) whose
	// key no ring has, planted in the store and read through b.
	raw := []byte{3, 1}
	raw = binary.BigEndian.AppendUint32(raw, 4242)
	raw = append(raw, make([]byte, 24+16+4)...)
	st.plant(t, "planted", `{"email":"fs1:`+base64.RawURLEncoding.EncodeToString(raw)+`"}`)
	if resp := b.Do(t, getReq("planted")); resp.Status == 200 {
		t.Fatalf("the planted value opened: %s", resp.Body)
	}

	// Then the rotation, and a value sealed under the new primary.
	keys(t, a, "rotate")
	testproc.Poll(t, 15*time.Second, func() error {
		if v := put(t, a, st, "fresh", "fresh@example.com"); v != 2 {
			return fmt.Errorf("a sealed under v%d, want v2", v)
		}
		return nil
	})
	if resp := b.Do(t, getReq("fresh")); resp.Status != 200 {
		t.Fatalf("after one read of a planted unknown key id, a value sealed under the new primary v2 does not open on the other sidecar: %d %s", resp.Status, resp.Body)
	}
}
