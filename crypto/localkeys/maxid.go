package localkeys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/fieldseal/fieldseal/internal/atomicfile"
)

// The highest version id ever issued for a ring is kept beside it, in
// path+".maxid", so that a rotation on an older copy of the ring put back
// in its place (a volume snapshot, a stale copy, a restore of an older
// backup) never issues an id the lost versions already sealed values
// under: sealed values name only a version, and two keys under one id
// would leave one set of values unreadable whichever ring is in place.
// The file is written under the ring's lock before the ring itself, so it
// is never below the ring; it only ever raises ids (a bogus value wastes
// ids, never reuses one). It carries the ring id: a file of another ring
// is ignored and replaced. It does not help when it is lost or replayed
// with the ring (docs/keys.md, "Version ids after a replay").
type highWater struct {
	RingID string `json:"ring_id"`
	MaxID  uint32 `json:"max_id"`
}

func highWaterPath(ring string) string { return ring + ".maxid" }

// readHighWater returns the highest version id recorded for ringID beside
// the ring at path: 0 when there is no record or it is another ring's.
func readHighWater(path, ringID string) (uint32, error) {
	b, err := os.ReadFile(highWaterPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read highest version id: %w", err)
	}
	var hw highWater
	if err := json.Unmarshal(b, &hw); err != nil {
		return 0, fmt.Errorf("read highest version id %q: %w: malformed (it holds no key material; remove it only after checking the ring's ids with `fieldseal keys status`)", highWaterPath(path), ErrBadRing)
	}
	if hw.RingID != ringID {
		return 0, nil
	}
	return hw.MaxID, nil
}

// writeHighWater records id as the highest version id issued for ringID
// beside the ring at path.
func writeHighWater(path, ringID string, id uint32) error {
	b, err := json.Marshal(highWater{RingID: ringID, MaxID: id})
	if err != nil {
		return err
	}
	if err := atomicfile.Replace(highWaterPath(path), append(b, '\n')); err != nil {
		return fmt.Errorf("record highest version id: %w", err)
	}
	return nil
}

// raiseHighWater records rf's highest id beside the ring at path unless a
// record for its ring is already at least that high.
func raiseHighWater(path string, rf *ringFile) error {
	hw, err := readHighWater(path, rf.RingID)
	if err != nil {
		return err
	}
	if m := rf.maxID(); m > hw {
		return writeHighWater(path, rf.RingID, m)
	}
	return nil
}
