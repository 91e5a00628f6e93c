package awskeys

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// TestReadBackupRefusesDamage: a backup file whose format, provider,
// digest or ring was changed, that carries a member the format lacks, or
// that is cut short is refused with ErrBadBackup before anything uses it,
// and so is restoring it (no secret is created). The intact file reads.
func TestReadBackupRefusesDamage(t *testing.T) {
	ctx, _, opts := initRing(t)
	backup := filepath.Join(t.TempDir(), "backup.json")
	if _, err := WriteBackup(ctx, opts, backup, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadBackup(backup); err != nil {
		t.Fatalf("control: the intact backup: %v", err)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	for name, damaged := range sidecartest.DamagedBackups(t, data, "local") {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "backup.json")
			if err := os.WriteFile(file, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ReadBackup(file); !errors.Is(err, ErrBadBackup) {
				t.Errorf("ReadBackup: %v, want ErrBadBackup", err)
			}
			into := opts
			into.SecretID = uniqueName(t)
			if _, err := RestoreBackup(ctx, into, file); !errors.Is(err, ErrBadBackup) {
				t.Errorf("RestoreBackup: %v, want ErrBadBackup", err)
			}
		})
	}
}
