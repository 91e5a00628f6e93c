package awskeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/atomicfile"
)

// BackupFormat is the "format" of a key ring backup file (shared with the
// local provider; Provider tells them apart).
const BackupFormat = crypto.BackupFormat

// Report is the result of Verify: the secret, the ring's id, and what
// crypto.RingReport holds (the metadata seal check and one line per key
// version, destroyed ones included). It never holds key material.
type Report struct {
	Secret string `json:"secret"`
	RingID string `json:"ring_id,omitempty"`
	crypto.RingReport
}

// VersionReport is one key version's check.
type VersionReport = crypto.VersionReport

// Verify reads the ring and checks its metadata seal and that every wrapped key
// (also those below the minimum version) unwraps with KMS to a usable data key.
// It returns the report and, when anything failed, an error wrapping ErrVerify
// that names the bad versions. It needs kms:Decrypt (the sidecar's role).
func Verify(ctx context.Context, opts Options) (*Report, error) {
	return withRing(ctx, opts, "verify key ring", func(c *clients, sv *secretVersion) (*Report, error) {
		return c.verify(ctx, sv.name, sv.ring)
	})
}

func (c *clients) verify(ctx context.Context, secretName string, r *ring) (*Report, error) {
	rep := &Report{Secret: secretName, RingID: r.RingID, RingReport: crypto.RingReport{Format: r.Format}}
	unsigned := ""
	if r.Format == ringFormatV1 {
		unsigned = "unsigned (v1 ring; any change seals it)"
	}
	errs := []error{rep.CheckMetadata(unsigned, func() error { return c.verifySeal(ctx, r, false) })}
	for _, k := range r.Keys {
		errs = append(errs, rep.CheckVersion(k.ID, k.Created, r.Live(k.ID), func() ([]byte, error) { return c.unwrap(ctx, r, secretName, k) }))
	}
	rep.AddDestroyed(r.Destroyed)
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("verify key ring in secret %q: %w: bad versions %v: %w", secretName, ErrVerify, rep.Bad(), err)
	}
	return rep, nil
}

// Backup is a self-describing copy of the ring secret. It holds the secret's
// string exactly (wrapped keys and sealed metadata; never a plaintext key) and
// its SHA-256, so a damaged copy is refused before it is used. The KMS
// encryption context of every wrapped key and of the metadata seal protect it
// against deliberate edits; checking them needs kms:Decrypt (Verify,
// RestoreBackup).
type Backup struct {
	Format        string    `json:"format"`
	Provider      string    `json:"provider"` // "aws"
	RingID        string    `json:"ring_id,omitempty"`
	Created       time.Time `json:"created"`
	Source        string    `json:"source"` // secret name at backup time (v1 rings bind keys to it)
	SourceARN     string    `json:"source_arn"`
	SourceVersion string    `json:"source_version"` // secret version id
	Versions      []uint32  `json:"versions"`       // for people reading the file
	Primary       uint32    `json:"primary"`
	SHA256        string    `json:"sha256"` // hex SHA-256 of Ring
	Ring          []byte    `json:"ring"`   // the secret string (base64 in JSON)
}

// WriteBackup reads the ring, verifies it (Verify: seal and every wrapped key)
// and writes a Backup to out (mode 0600, never overwriting), so a backup never
// captures a ring that does not open.
func WriteBackup(ctx context.Context, opts Options, out string, now time.Time) (*Backup, error) {
	return withRing(ctx, opts, "back up key ring", func(c *clients, sv *secretVersion) (*Backup, error) {
		if _, err := c.verify(ctx, sv.name, sv.ring); err != nil {
			return nil, fmt.Errorf("back up key ring: %w", err)
		}
		b := &Backup{Format: BackupFormat, Provider: "aws", RingID: sv.ring.RingID, Created: now.UTC(),
			Source: sv.name, SourceARN: sv.arn, SourceVersion: sv.versionID, Primary: sv.ring.Primary,
			SHA256: crypto.BackupDigest([]byte(sv.body)), Ring: []byte(sv.body)}
		for _, k := range sv.ring.Keys {
			b.Versions = append(b.Versions, k.ID)
		}
		enc, err := json.MarshalIndent(b, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("back up key ring: encode: %w", err)
		}
		if err := createFile(out, append(enc, '\n')); err != nil {
			return nil, fmt.Errorf("back up key ring in secret %q to %q: %w", sv.name, out, err)
		}
		return b, nil
	})
}

// ReadBackup reads a backup file and checks its format, provider and digest.
func ReadBackup(file string) (*Backup, *ring, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read key ring backup: %w", err)
	}
	var b Backup
	if err := crypto.DecodeBackup(data, &b); err != nil {
		return nil, nil, fmt.Errorf("read key ring backup %q: %w", file, err)
	}
	if err := crypto.CheckBackup(b.Format, b.Provider, "aws", b.SHA256, b.Ring); err != nil {
		return nil, nil, fmt.Errorf("read key ring backup %q: %w", file, err)
	}
	r, err := parseRing(b.Ring)
	if err != nil {
		return nil, nil, fmt.Errorf("read key ring backup %q: %w", file, err)
	}
	if r.RingID != b.RingID {
		return nil, nil, fmt.Errorf("read key ring backup %q: %w: ring id does not match the ring", file, ErrBadBackup)
	}
	return &b, r, nil
}

// RestoreBackup checks the backup file (digest, then Verify with KMS) and
// creates the secret opts.SecretID (the original name or a new one) holding its
// ring; it refuses when that secret exists (ErrRingExists). A v2 ring is
// written byte for byte: its keys are bound to the ring id, not the name, so
// every value sealed under it opens again. A v1 ring restored under another
// name is upgraded to v2 first (its keys keep their binding to the old name).
// The new secret version id is random, so running sidecars reload.
func RestoreBackup(ctx context.Context, opts Options, file string) (*Status, error) {
	b, r, err := ReadBackup(file)
	if err != nil {
		return nil, err
	}
	c, err := newClients(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer c.close()
	if _, err := c.verify(ctx, b.Source, r); err != nil {
		return nil, fmt.Errorf("restore key ring from %q: %w", file, err)
	}
	name := opts.SecretID
	body := string(b.Ring)
	if r.Format == ringFormatV1 && name != b.Source {
		r.upgrade(b.Source)
		primary, _ := r.key(r.Primary)
		if err := c.seal(ctx, r, primary.CMKKeyID); err != nil {
			return nil, fmt.Errorf("restore key ring from %q: %w", file, err)
		}
		if body, err = r.marshal(); err != nil {
			return nil, fmt.Errorf("restore key ring from %q: encode: %w", file, err)
		}
	}
	return c.create(ctx, "restore", name, r, body, requestToken("restore:"+newRingID(), r.Primary))
}

// createFile writes data to path with mode 0600 and refuses to overwrite
// (internal/atomicfile.Create).
func createFile(path string, data []byte) error {
	err := atomicfile.Create(path, data)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup file %q exists; backups are never overwritten: %w", path, fs.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("write backup file: %w", err)
	}
	return nil
}
