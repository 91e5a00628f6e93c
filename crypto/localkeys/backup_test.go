package localkeys_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// TestReadBackupRefusesDamage: a backup file whose format, provider,
// digest or ring was changed, that carries a member the format lacks, or
// that is cut short is refused with ErrBadBackup before anything uses it,
// and so is restoring it. The intact file reads.
func TestReadBackupRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ring.json")
	mk, _ := sidecartest.MasterKey(t)
	if _, err := localkeys.Init(path, mk); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.json")
	if _, err := localkeys.WriteBackup(path, mk, backup, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.ReadBackup(backup); err != nil {
		t.Fatalf("control: the intact backup: %v", err)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	for name, damaged := range sidecartest.DamagedBackups(t, data, "aws") {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "backup.json")
			if err := os.WriteFile(file, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := localkeys.ReadBackup(file); !errors.Is(err, localkeys.ErrBadBackup) {
				t.Errorf("ReadBackup: %v, want ErrBadBackup", err)
			}
			restored := filepath.Join(t.TempDir(), "ring.json")
			if _, err := localkeys.RestoreBackup(file, mk, restored); !errors.Is(err, localkeys.ErrBadBackup) {
				t.Errorf("RestoreBackup: %v, want ErrBadBackup", err)
			}
			if _, err := os.Stat(restored); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("RestoreBackup of a damaged backup wrote %s (stat: %v)", restored, err)
			}
		})
	}
}
