package adversarye2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestKeyChangeIsNotCommittedWhenItsAuditEventCannotBeWritten: `keys
// rotate` opens the audit trail (writing its start event) before it
// touches the ring, but writes the rotation's own event after the ring
// file is replaced. When the trail's disk fills in between (here a file
// size limit that lets the start event through but not the next one),
// the ring has gained a version and no event records it: key
// administration that is audited and fail-closed either records the
// change or does not make it.
func TestKeyChangeIsNotCommittedWhenItsAuditEventCannotBeWritten(t *testing.T) {
	_, s, ring := newRingSidecar(t)
	size := func() int64 {
		fi, err := os.Stat(s.AuditFile)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// Grow the trail with audited commands until the next KiB boundary is
	// 250 to 550 bytes away: room for a start event (about 200 bytes), not
	// for a start event and a rotation event (about 380 more).
	for i := 0; ; i++ {
		if room := 1024 - size()%1024; room > 250 && room < 550 {
			break
		}
		if i == 20 {
			t.Fatalf("no audit file size left 250-550 bytes before a KiB boundary (size %d)", size())
		}
		keys(t, s, "verify")
	}
	limitKiB := size()/1024 + 1
	before, _ := os.ReadFile(ring)
	// The shell ignores SIGXFSZ so that a write past the limit fails with
	// EFBIG instead of killing the process; the ring file (about 500
	// bytes) stays well under the limit.
	cmd := exec.Command("bash", "-c", fmt.Sprintf(`trap '' XFSZ; ulimit -f %d; exec "$0" keys rotate --config "$1"`, limitKiB),
		fieldsealBin, s.ConfigFile)
	cmd.Dir = s.Dir
	out, err := cmd.CombinedOutput()
	after, _ := os.ReadFile(ring)
	trail, _ := os.ReadFile(s.AuditFile)
	// Only whole lines count: a cut line is no event.
	rotatedEvent := false
	for _, l := range strings.Split(string(trail), "\n") {
		var ev struct {
			Outcome string
			Primary uint32
		}
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Outcome == "admin_rotate" && ev.Primary == 2 {
			rotatedEvent = true
		}
	}
	if string(after) != string(before) && !rotatedEvent {
		t.Fatalf("keys rotate (exit %v) changed the ring and no audit event records it:\n%s", err, out)
	}
	if err == nil && !rotatedEvent {
		t.Fatalf("keys rotate succeeded without its audit event:\n%s", out)
	}
}
