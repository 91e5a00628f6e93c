package localkeys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/atomicfile"
)

// BackupFormat is the "format" of a local ring backup file (shared with
// the aws provider; Provider tells them apart).
const BackupFormat = crypto.BackupFormat

// ErrBadBackup is crypto.ErrBadBackup: the backup file is not a valid,
// intact fieldseal local ring backup.
var ErrBadBackup = crypto.ErrBadBackup

// Backup is a self-describing copy of a ring file. It holds the ring file
// bytes exactly (wrapped keys and signed metadata; never a plaintext key)
// and their SHA-256, so a restore puts back the same revision and a
// damaged copy is refused before it is used. The ring's own MAC and the
// AEAD of every wrapped key protect it against deliberate edits; checking
// them needs the master key (Verify, RestoreBackup).
type Backup struct {
	Format   string    `json:"format"`
	Provider string    `json:"provider"` // "local"
	RingID   string    `json:"ring_id"`
	Created  time.Time `json:"created"`
	Source   string    `json:"source"`   // ring file path at backup time
	Versions []uint32  `json:"versions"` // for people reading the file
	Primary  uint32    `json:"primary"`
	SHA256   string    `json:"sha256"` // hex SHA-256 of Ring
	Ring     []byte    `json:"ring"`   // the ring file bytes (base64 in JSON)
}

// WriteBackup reads the ring at path, checks it with mk (Verify: MAC and
// every wrapped key), and writes a Backup to out (mode 0600, refusing to
// overwrite), so a backup never captures a ring that does not open.
func WriteBackup(path string, mk MasterKey, out string, now time.Time) (*Backup, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("back up key ring: read %q: %w", path, err)
	}
	if _, err := verifyBytes(path, data, mk); err != nil {
		return nil, fmt.Errorf("back up key ring: %w", err)
	}
	rf, _ := parseRing(data) // verified above
	b := &Backup{Format: BackupFormat, Provider: "local", RingID: rf.RingID, Created: now.UTC(),
		Source: path, Primary: rf.Primary, SHA256: crypto.BackupDigest(data), Ring: data}
	for _, w := range rf.Keys {
		b.Versions = append(b.Versions, w.ID)
	}
	enc, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("back up key ring: encode: %w", err)
	}
	if err := atomicfile.Create(out, append(enc, '\n')); errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("back up key ring %q: backup file %q exists; backups are never overwritten: %w", path, out, fs.ErrExist)
	} else if err != nil {
		return nil, fmt.Errorf("back up key ring %q to %q: %w", path, out, err)
	}
	return b, nil
}

// ReadBackup reads a backup file and checks its format and digest.
func ReadBackup(file string) (*Backup, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read key ring backup: %w", err)
	}
	var b Backup
	if err := crypto.DecodeBackup(data, &b); err != nil {
		return nil, fmt.Errorf("read key ring backup %q: %w", file, err)
	}
	if err := crypto.CheckBackup(b.Format, b.Provider, "local", b.SHA256, b.Ring); err != nil {
		return nil, fmt.Errorf("read key ring backup %q: %w", file, err)
	}
	if _, err := parseRing(b.Ring); err != nil {
		return nil, fmt.Errorf("read key ring backup %q: %w", file, err)
	}
	return &b, nil
}

// RestoreBackup checks the backup file (digest, then Verify with mk) and
// writes its ring to path, the original or a new one; it refuses to
// overwrite an existing file (move a damaged ring aside first). The ring id
// is kept, so every value sealed under the ring opens again; the record of
// the highest id issued (path+".maxid") is kept or raised, so a rotation
// after restoring an older backup issues no id used since.
func RestoreBackup(file string, mk MasterKey, path string, before ...BeforeWrite) (*Status, error) {
	b, err := ReadBackup(file)
	if err != nil {
		return nil, err
	}
	if _, err := verifyBytes(file, b.Ring, mk); err != nil {
		return nil, fmt.Errorf("restore key ring from %q: %w", file, err)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("restore key ring from %q to %q: %w", file, path, ErrRingExists)
	}
	rf, _ := parseRing(b.Ring) // checked by verifyBytes
	st, err := rf.status(path, b.Ring)
	if err != nil {
		return nil, fmt.Errorf("restore key ring from %q to %q: %w", file, path, err)
	}
	if err := runBefore(before, nil, st); err != nil {
		return nil, fmt.Errorf("restore key ring from %q to %q: %w", file, path, err)
	}
	if err := writeFile(path, b.Ring, false); err != nil {
		return nil, fmt.Errorf("restore key ring from %q to %q: %w", file, path, err)
	}
	// A record of ids issued after the backup was taken stays, so the next
	// rotation skips them.
	if err := raiseHighWater(path, rf); err != nil {
		return nil, fmt.Errorf("restore key ring from %q to %q: %w", file, path, err)
	}
	return st, nil
}
