package awskeys

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// TestReadBackupRefusesDamage: a backup file whose format, provider,
// digest or ring was changed, that carries a member the format lacks, or
// that is cut short is refused with ErrBadBackup before anything uses it,
// and so is restoring it into a new secret. The intact file reads.
func TestReadBackupRefusesDamage(t *testing.T) {
	ctx, _, opts := initRing(t)
	backup := filepath.Join(t.TempDir(), "backup.json")
	if _, err := WriteBackup(ctx, opts, backup, time.Now()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadBackup(backup); err != nil {
		t.Fatalf("control: the intact backup: %v", err)
	}
	sidecartest.RefusesDamagedBackups(t, data, "local", ErrBadBackup,
		func(_ *testing.T, file string) error { _, _, err := ReadBackup(file); return err },
		func(t *testing.T, file string) error {
			into := opts
			into.SecretID = uniqueName(t)
			_, err := RestoreBackup(ctx, into, file)
			return err
		})
}
