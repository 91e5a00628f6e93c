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
// and so is restoring it (no ring file is written). The intact file reads.
func TestReadBackupRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	path, backup := filepath.Join(dir, "ring.json"), filepath.Join(dir, "backup.json")
	mk, _ := sidecartest.MasterKey(t)
	if _, err := localkeys.Init(path, mk); err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.WriteBackup(path, mk, backup, time.Now()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localkeys.ReadBackup(backup); err != nil {
		t.Fatalf("control: the intact backup: %v", err)
	}
	sidecartest.RefusesDamagedBackups(t, data, "aws", localkeys.ErrBadBackup,
		func(_ *testing.T, file string) error { _, err := localkeys.ReadBackup(file); return err },
		func(t *testing.T, file string) error {
			restored := filepath.Join(t.TempDir(), "ring.json")
			_, err := localkeys.RestoreBackup(file, mk, restored)
			if _, serr := os.Stat(restored); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("restoring a damaged backup wrote %s (stat: %v)", restored, serr)
			}
			return err
		})
}
