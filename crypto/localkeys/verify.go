package localkeys

import (
	"errors"
	"fmt"
	"os"

	"github.com/fieldseal/fieldseal/crypto"
)

// ErrVerify: Verify found a problem; the Report names it.
var ErrVerify = errors.New("key ring verification failed")

// Report is the result of Verify: where the ring is, its id, and what
// crypto.RingReport holds (the metadata check and one line per key version).
// It never holds key material.
type Report struct {
	Path   string `json:"path"`
	RingID string `json:"ring_id"`
	crypto.RingReport
}

// VersionReport is one key version's check.
type VersionReport = crypto.VersionReport

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
	rep := &Report{Path: path, RingID: rf.RingID, RingReport: crypto.RingReport{Format: rf.Format}}
	unsigned := ""
	if rf.Format == FormatV1 {
		unsigned = "unsigned (v1 ring; any rotate signs it)"
	}
	errs := []error{rep.CheckMetadata(unsigned, func() error { return rf.verify(mk) })}
	for _, w := range rf.Keys {
		errs = append(errs, rep.CheckVersion(w.ID, timeOf(w), w.ID >= rf.MinVersion, func() ([]byte, error) { return rf.unwrap(mk, w) }))
	}
	rep.AddDestroyed(rf.Destroyed)
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("verify key ring %q: %w: bad versions %v: %w", path, ErrVerify, rep.Bad(), err)
	}
	return rep, nil
}
