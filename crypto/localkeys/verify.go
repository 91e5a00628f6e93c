package localkeys

import (
	"errors"
	"fmt"
	"os"

	"github.com/fieldseal/fieldseal/crypto"
)

// ErrVerify: Verify found a problem; the Report names it.
var ErrVerify = errors.New("key ring verification failed")

// Report is the result of Verify: the metadata check and one line per key
// version. It never holds key material.
type Report struct {
	Path     string                `json:"path"`
	RingID   string                `json:"ring_id"`
	Format   string                `json:"format"`
	Metadata string                `json:"metadata"` // "ok", "unsigned (v1 ring)" or the error
	Versions crypto.VersionReports `json:"versions"`
}

// VersionReport is one key version's check.
type VersionReport = crypto.VersionReport

// Bad lists the versions that failed.
func (r *Report) Bad() []uint32 { return r.Versions.Bad() }

// Verify checks the ring file at path: the metadata MAC, and that every
// wrapped key unwraps with mk to a usable data key (also versions below the
// minimum, which a later SetMinVersion may bring back). It returns the report
// and, when anything failed, an error wrapping ErrVerify that names the bad
// versions.
func Verify(path string, mk MasterKey) (*Report, error) {
	if mk.wrap == nil {
		return nil, fmt.Errorf("verify key ring %q: %w", path, ErrNoMasterKey)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verify key ring: read %q: %w", path, err)
	}
	return verifyBytes(path, data, mk)
}

func verifyBytes(path string, data []byte, mk MasterKey) (*Report, error) {
	rf, err := parseRing(data)
	if err != nil {
		return nil, fmt.Errorf("verify key ring %q: %w", path, err)
	}
	rep := &Report{Path: path, RingID: rf.RingID, Format: rf.Format, Metadata: "ok"}
	var errs []error
	if rf.Format == FormatV1 {
		rep.Metadata = "unsigned (v1 ring; any rotate signs it)"
	} else if err := rf.verify(mk); err != nil {
		rep.Metadata = err.Error()
		errs = append(errs, fmt.Errorf("metadata: %w", err))
	}
	for _, w := range rf.Keys {
		vr, err := crypto.CheckVersion(w.ID, timeOf(w), w.ID >= rf.MinVersion, func() ([]byte, error) { return rf.unwrap(mk, w) })
		if err != nil {
			errs = append(errs, err)
		}
		rep.Versions = append(rep.Versions, vr)
	}
	for _, id := range rf.Destroyed {
		rep.Versions = append(rep.Versions, VersionReport{ID: id, State: "destroyed"})
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("verify key ring %q: %w: bad versions %v: %w", path, ErrVerify, rep.Bad(), errors.Join(errs...))
	}
	return rep, nil
}
