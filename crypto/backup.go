package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// BackupFormat is the "format" member of a key ring backup file, the same
// for every key provider; its "provider" member tells them apart.
const BackupFormat = "fieldseal-key-backup/v1"

// ErrBadBackup: a backup file is not a valid, intact fieldseal backup of
// the provider reading it.
var ErrBadBackup = errors.New("invalid or corrupted key ring backup")

// BackupDigest is the hex SHA-256 of ring, the stored ring's bytes: a
// backup file records it beside them, so that a damaged copy is refused
// before it is used.
func BackupDigest(ring []byte) string {
	sum := sha256.Sum256(ring)
	return hex.EncodeToString(sum[:])
}

// DecodeBackup decodes data, a backup file, into b, a provider's backup
// type (a member b has no field for is an error). Errors wrap ErrBadBackup.
func DecodeBackup(data []byte, b any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(b); err != nil {
		return fmt.Errorf("%w: %v", ErrBadBackup, err)
	}
	return nil
}

// CheckBackup checks what a decoded backup file says of itself: its format
// (BackupFormat) and provider (want), and that digest, the SHA-256 it
// records, is ring's (BackupDigest). Errors wrap ErrBadBackup. It does not
// open the ring: the provider checks that it parses and, with its keys,
// that it opens.
func CheckBackup(format, provider, want, digest string, ring []byte) error {
	if format != BackupFormat || provider != want {
		return fmt.Errorf("%w: format %q provider %q, want %q %s", ErrBadBackup, format, provider, BackupFormat, want)
	}
	if BackupDigest(ring) != digest {
		return fmt.Errorf("%w: sha256 does not match the ring", ErrBadBackup)
	}
	return nil
}
