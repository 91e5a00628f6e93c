package crypto

import "time"

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
