package crypto

import "time"

// Version states a key provider's Verify reports in a VersionReport.
const (
	VersionOK           = "ok"
	VersionBad          = "bad"
	VersionBelowMinimum = "below minimum"
	VersionDestroyed    = "destroyed"
)

// VersionReport is one key version's check by a key provider's Verify. It
// never holds key material.
type VersionReport struct {
	ID uint32 `json:"id"`
	// State is VersionOK, VersionDestroyed, VersionBelowMinimum or VersionBad.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// VersionReports are the checks of every version of one ring.
type VersionReports []VersionReport

// Bad lists the versions whose state is VersionBad, in report order.
func (vs VersionReports) Bad() []uint32 {
	var bad []uint32
	for _, v := range vs {
		if v.State == VersionBad {
			bad = append(bad, v.ID)
		}
	}
	return bad
}

// CheckVersion checks that wrapped key version id unwraps to a usable data
// key: it calls unwrap, builds the data key (created is its creation time)
// and clears the material. The report is VersionBad with the error text when
// either step fails (the error is also returned), else VersionBelowMinimum
// when live is false (the version opens no value until the minimum version
// comes down), else VersionOK.
func CheckVersion(id uint32, created time.Time, live bool, unwrap func() ([]byte, error)) (VersionReport, error) {
	vr := VersionReport{ID: id, State: VersionOK}
	material, err := unwrap()
	if err == nil {
		_, err = NewDataKey(id, material, created)
		clear(material)
	}
	switch {
	case err != nil:
		vr.State, vr.Error = VersionBad, err.Error()
	case !live:
		vr.State = VersionBelowMinimum
	}
	return vr, err
}
