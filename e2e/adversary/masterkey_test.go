package adversarye2e_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestMasterKeyReadableByAnotherUserIsRefused: the local provider refuses
// a master key file that group or others may read, except a read-only
// root-owned file readable by its group, read by a process that is not
// root: the shape of a kubelet Secret volume with an fsGroup. Nothing in
// the rule ties the file to such a volume or the group to the pod, so on
// an ordinary host a key installed as root:users 0440 (gid 100, shared by
// every login) is accepted for a sidecar running as nobody in that group,
// while another user of the group reads it too. The test runs the binary
// as two unprivileged users and wants the sidecar to refuse the key that
// the other user can read.
func TestMasterKeyReadableByAnotherUserIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		testproc.Missing(t, "needs root to make root-owned files and run the binary as other users")
	}
	const sharedGID = 100
	dir := testproc.OtherUsersDir(t, "fieldseal-adv-mk-", fieldsealBin, "fieldseal")
	exe := filepath.Join(dir, "fieldseal")
	cfg := filepath.Join(dir, "fieldseal.yaml")
	yaml := "upstream: http://127.0.0.1:1\n" + localKeys("") + "\n" + docFieldMap
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	mk := filepath.Join(dir, "master.key")
	key := testproc.MustExec(t, testproc.Cmd{Dir: dir}, exe, "keys", "master-key")
	if err := os.WriteFile(mk, key, 0o600); err != nil {
		t.Fatal(err)
	}
	testproc.MustExec(t, testproc.Cmd{Dir: dir}, exe, "keys", "init", "--config", cfg)
	// The ring holds only wrapped keys: readable by all. The key as an
	// administrator installs it for a group: root:users, read-only.
	if err := os.Chmod(filepath.Join(dir, "ring.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mk, 0, sharedGID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(mk, 0o440); err != nil {
		t.Fatal(err)
	}
	as := func(uid uint32, name string, args ...string) ([]byte, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(`{"email":"x@example.com"}`)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{sharedGID}}}
		return cmd.CombinedOutput()
	}
	other, err := as(65533, "cat", mk)
	if err != nil || !bytes.Equal(bytes.TrimSpace(other), bytes.TrimSpace(key)) {
		t.Fatalf("setup: another member of gid %d cannot read the key file (%v): %s", sharedGID, err, other)
	}
	out, err := as(65534, exe, "encrypt", "--config", cfg, "--route", "c")
	if err == nil {
		t.Fatalf("fieldseal (uid 65534) accepted a master key file that uid 65533 also reads (root:%d 0440, not a Secret volume) and sealed with it: %s", sharedGID, out)
	}
	if !strings.Contains(string(out), "master key") {
		t.Fatalf("fieldseal failed for another reason than the master key file: %s", out)
	}
}
