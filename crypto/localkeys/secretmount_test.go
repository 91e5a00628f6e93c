//go:build linux

package localkeys_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// envLoadMasterKey makes the test binary, re-run as another user, load the
// master key file it names and report the result on stdout.
const envLoadMasterKey = "FIELDSEAL_TEST_LOAD_MASTER_KEY"

// pod is the user, group and fsGroup of the sidecar in a pod (the image's
// nonroot user, the chart's fsGroup).
const pod = 65532

// The kubelet writes a Secret volume's files as root, in a timestamped
// directory that "..data" points at, with each file a symlink through
// "..data"; with the pod's fsGroup it sets their group to it and adds group
// read, so defaultMode 0400 becomes 0440 and a non-root sidecar reads the
// file as a member of that group. That file must load; the same mode
// outside that layout, and anything else open to group or others, must
// not. Playing the kubelet and then the sidecar needs root: the test
// creates the files as root and loads them in a copy of the test binary
// running as uid and gid 65532.
func TestMasterKeyFileAsKubernetesMountsASecret(t *testing.T) {
	if os.Getenv(envLoadMasterKey) != "" {
		t.Skip("the child run only loads (TestMain-free re-exec)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to write files as the kubelet does and load them as another user")
	}
	_, text := sidecartest.MasterKey(t)
	// Not t.TempDir: its parent is private to root, and the child must
	// reach the files.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := testproc.OtherUsersDir(t, "fieldseal-secretmount-", self, "localkeys.test")
	bin := filepath.Join(dir, "localkeys.test")
	// Layouts of the file: as the kubelet's atomic writer makes a Secret
	// volume, or a plain file.
	const (
		plain = iota
		secretVolume
		secretVolumeNonRootDir  // the timestamped directory is not root's
		secretVolumeLinkedAway  // the timestamped directory holds a link to a file elsewhere
		secretVolumeOddDataLink // ..data names a directory that is no kubelet timestamp
	)
	for _, tt := range []struct {
		name       string
		layout     int
		uid, gid   int
		mode       os.FileMode
		wantLoaded bool
	}{
		{"a root-owned 0440 file of the pod's fsGroup in a Secret volume loads (defaultMode 0400 with fsGroup)", secretVolume, 0, pod, 0o440, true},
		{"a root-owned 0040 file of the pod's fsGroup in a Secret volume loads", secretVolume, 0, pod, 0o040, true},
		{"a file owned by the sidecar's user with 0400 loads", plain, pod, pod, 0o400, true},
		{"a root-owned 0440 file outside a Secret volume is refused (a shared host group reads it)", plain, 0, pod, 0o440, false},
		{"a root-owned 0440 file in a look-alike volume whose directory is not root's is refused", secretVolumeNonRootDir, 0, pod, 0o440, false},
		{"a look-alike volume linking to a root-owned 0440 file elsewhere is refused", secretVolumeLinkedAway, 0, pod, 0o440, false},
		{"a look-alike volume whose ..data is no kubelet timestamp directory is refused", secretVolumeOddDataLink, 0, pod, 0o440, false},
		{"a root-owned 0444 file (readable by others) in a Secret volume is refused", secretVolume, 0, pod, 0o444, false},
		{"a root-owned 0460 file (group-writable) in a Secret volume is refused", secretVolume, 0, pod, 0o460, false},
		{"a root-owned 0640 file (writable by its owner) in a Secret volume is refused", secretVolume, 0, pod, 0o640, false},
		{"a 0440 file owned by another user than root in a Secret volume is refused", secretVolume, 1000, pod, 0o440, false},
		{"a 0640 file owned by the sidecar's user is refused", plain, pod, pod, 0o640, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vol := filepath.Join(dir, strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(tt.name))
			if err := os.Mkdir(vol, 0o755); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(vol, "master.key")
			real := file
			if tt.layout != plain {
				ts := "..2026_01_02_03_04_05.123456789"
				if tt.layout == secretVolumeOddDataLink {
					ts = "..keys"
				}
				if err := os.Mkdir(filepath.Join(vol, ts), 0o755); err != nil {
					t.Fatal(err)
				}
				if tt.layout == secretVolumeNonRootDir {
					if err := os.Chown(filepath.Join(vol, ts), pod, pod); err != nil {
						t.Fatal(err)
					}
				}
				real = filepath.Join(vol, ts, "master.key")
				if tt.layout == secretVolumeLinkedAway {
					real = filepath.Join(vol, "elsewhere.key")
					if err := os.Symlink(real, filepath.Join(vol, ts, "master.key")); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Symlink(ts, filepath.Join(vol, "..data")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join("..data", "master.key"), file); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(real, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(real, tt.uid, tt.gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(real, tt.mode); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "-test.run=^TestLoadMasterKeyChild$")
			cmd.Env = append(os.Environ(), envLoadMasterKey+"="+file)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: pod, Gid: pod, Groups: []uint32{pod}}}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child run as uid %d: %v\n%s", pod, err, out)
			}
			loaded := strings.Contains(string(out), "LOADED")
			if loaded != tt.wantLoaded {
				t.Errorf("mode %04o owner %d:%d: loaded %v, want %v\n%s", tt.mode, tt.uid, tt.gid, loaded, tt.wantLoaded, out)
			}
			if !tt.wantLoaded && !strings.Contains(string(out), "REFUSED "+localkeys.ErrMasterKeyExposed.Error()) {
				t.Errorf("mode %04o: not refused as exposed:\n%s", tt.mode, out)
			}
		})
	}
}

// TestLoadMasterKeyChild is the child run of
// TestMasterKeyFileAsKubernetesMountsASecret.
func TestLoadMasterKeyChild(t *testing.T) {
	file := os.Getenv(envLoadMasterKey)
	if file == "" {
		t.Skip("run by TestMasterKeyFileAsKubernetesMountsASecret")
	}
	_, err := localkeys.LoadMasterKey(file, "")
	switch {
	case err == nil:
		fmt.Println("LOADED")
	case errors.Is(err, localkeys.ErrMasterKeyExposed):
		fmt.Println("REFUSED " + localkeys.ErrMasterKeyExposed.Error())
	default:
		fmt.Println("ERROR", err)
	}
}
