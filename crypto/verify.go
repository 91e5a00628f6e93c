package crypto

import (
	"fmt"
	"time"
)

// VersionReport is one key version's check by a key provider's Verify. It
// never holds key material.
type VersionReport struct {
	ID uint32 `json:"id"`
	// State is "ok", "destroyed", "below minimum" or "bad".
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// VersionReports are the checks of every version of one ring.
type VersionReports []VersionReport

// Bad lists the versions whose state is "bad", in report order.
func (vs VersionReports) Bad() []uint32 {
	var bad []uint32
	for _, v := range vs {
		if v.State == "bad" {
			bad = append(bad, v.ID)
		}
	}
	return bad
}

// CheckVersion checks that wrapped key version id unwraps to a usable data
// key: it calls unwrap, builds the data key (created is its creation time)
// and clears the material. The report is "bad" with the error text when
// either step fails (the error is also returned), else "below minimum"
// when live is false (the version opens no value until the minimum version
// comes down), else "ok".
func CheckVersion(id uint32, created time.Time, live bool, unwrap func() ([]byte, error)) (VersionReport, error) {
	vr := VersionReport{ID: id, State: "ok"}
	material, err := unwrap()
	if err == nil {
		_, err = NewDataKey(id, material, created)
		clear(material)
	}
	switch {
	case err != nil:
		vr.State, vr.Error = "bad", err.Error()
	case !live:
		vr.State = "below minimum"
	}
	return vr, err
}

// RingReport is what a key provider's Verify found in one ring, apart from
// where the ring is stored and its id: its format, the check of its
// metadata seal and one line per version. It never holds key material; it
// marshals to the members format, metadata and versions.
type RingReport struct {
	Format string `json:"format"`
	// Metadata is "ok", the note of a ring that carries no seal (format
	// v1), or the error of the seal check.
	Metadata string         `json:"metadata"`
	Versions VersionReports `json:"versions"`
}

// Bad lists the versions that failed.
func (r *RingReport) Bad() []uint32 { return r.Versions.Bad() }

// CheckMetadata records the metadata check: unsigned, when not empty, is
// the note for a ring without a seal and verify is not called; else verify
// checks the seal. The error, prefixed "metadata: ", is verify's.
func (r *RingReport) CheckMetadata(unsigned string, verify func() error) error {
	if unsigned != "" {
		r.Metadata = unsigned
		return nil
	}
	if err := verify(); err != nil {
		r.Metadata = err.Error()
		return fmt.Errorf("metadata: %w", err)
	}
	r.Metadata = "ok"
	return nil
}

// CheckVersion records the CheckVersion line of one wrapped version and
// returns its error.
func (r *RingReport) CheckVersion(id uint32, created time.Time, live bool, unwrap func() ([]byte, error)) error {
	vr, err := CheckVersion(id, created, live, unwrap)
	r.Versions = append(r.Versions, vr)
	return err
}

// AddDestroyed records a "destroyed" line for each of ids.
func (r *RingReport) AddDestroyed(ids []uint32) {
	for _, id := range ids {
		r.Versions = append(r.Versions, VersionReport{ID: id, State: "destroyed"})
	}
}
