package localkeys

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/atomicfile"
)

// Format is the value of the ring file's "format" field for rings this
// release writes: version 2 carries an authenticated metadata record.
const Format = "fieldseal-local-ring/v2"

// FormatV1 is the format of rings written by earlier releases: still read,
// and upgraded to Format by the next command that changes the ring.
const FormatV1 = "fieldseal-local-ring/v1"

// Ring file errors, for errors.Is.
var (
	// ErrRingExists: Init found a ring file and did not touch it.
	ErrRingExists = errors.New("key ring file already exists")
	// ErrBadRing: the ring file is not a valid fieldseal local ring.
	ErrBadRing = errors.New("invalid key ring file")
	// ErrWrongMasterKey: a data key did not unwrap: the master key is not
	// the one the ring was made with, or the file was altered.
	ErrWrongMasterKey = errors.New("data key does not unwrap with this master key (wrong master key or altered ring file)")
	// ErrRingChanged: the file changed while Rotate worked; nothing written.
	ErrRingChanged = errors.New("key ring file changed during the operation")

	// errUnchanged, from an update's change function: write nothing.
	errUnchanged = errors.New("key ring left unchanged")
)

// ringFile is the JSON form of the ring file.
type ringFile struct {
	Format string `json:"format"`
	RingID string `json:"ring_id"`
	// RingVersions (primary, min_version, retired, destroyed, lookup) keep
	// their place in the JSON between ring_id and keys.
	crypto.RingVersions
	Keys []wrapped `json:"keys"`
	// MAC is std base64 of HMAC-SHA256 of the metadata (crypto.RingMetadata)
	// under a key derived from the master key. Required in Format.
	MAC string `json:"mac,omitempty"`

	// issued is the highest version id recorded beside the ring (see
	// highWater), read by update under the lock; not stored in the ring.
	issued uint32
}

type wrapped struct {
	ID      uint32 `json:"id"`
	Created string `json:"created"` // RFC 3339
	Wrapped string `json:"wrapped"` // std base64 of nonce | ciphertext | tag
}

// Status describes a ring file without key material.
type Status struct {
	Path       string `json:"path"`
	Format     string `json:"format"`
	RingID     string `json:"ring_id"`
	Primary    uint32 `json:"primary"`
	MinVersion uint32 `json:"min_version,omitempty"`
	// Lookup is the version deterministic values are sealed under (the
	// primary when the ring names none).
	Lookup   uint32           `json:"lookup"`
	Keys     []crypto.KeyInfo `json:"keys"`
	Revision string           `json:"revision"` // SHA-256 of the file, hex
	// Size is the file size in bytes.
	Size int `json:"size"`
	// Rotated reports whether the call that returned this Status added a
	// version (RotateIf may leave the ring as it was).
	Rotated bool `json:"rotated"`
}

// BeforeWrite is a hook of the commands that change a ring file (Init,
// RotateIf, RotateLookup, Retire, SetMinVersion, Destroy, Rewrap,
// RestoreBackup): it is called once the new ring is built and before the
// file is written (under the ring's lock where there is one), with the
// ring as it is (nil for Init and RestoreBackup, which create the file) and
// as it will be, Revision included. An error from it aborts the command
// and leaves the file as it was; `fieldseal keys` uses it to record the
// change in the audit trail, durably, before making it. A command that
// changes nothing (RotateIf whose condition is false) does not call it.
type BeforeWrite func(prev, next *Status) error

// runBefore calls the hooks in order; the first error stops them.
func runBefore(hooks []BeforeWrite, prev, next *Status) error {
	for _, h := range hooks {
		if err := h(prev, next); err != nil {
			return err
		}
	}
	return nil
}

// newRingID returns 16 random bytes in base64url.
func newRingID() string {
	idBytes := make([]byte, 16)
	rand.Read(idBytes)
	return base64.RawURLEncoding.EncodeToString(idBytes)
}

// Init creates a ring file at path with one new data key (version 1,
// primary) wrapped by mk. It refuses to overwrite an existing file.
func Init(path string, mk MasterKey, before ...BeforeWrite) (*Status, error) {
	if mk.wrap == nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, ErrNoMasterKey)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("init key ring %q: %w; use rotate to add a key", path, ErrRingExists)
	}
	rf := &ringFile{Format: Format, RingID: newRingID(), RingVersions: crypto.RingVersions{Primary: 1}}
	if err := rf.addKey(mk, 1, time.Now()); err != nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, err)
	}
	rf.sign(mk)
	data, err := rf.marshal()
	if err != nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, err)
	}
	next, err := rf.status(path, data)
	if err != nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, err)
	}
	if err := runBefore(before, nil, next); err != nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, err)
	}
	if err := writeFile(path, data, false); err != nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, err)
	}
	if err := raiseHighWater(path, rf); err != nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, err)
	}
	return rf.status(path, data)
}

// Rotate adds a new data key, version max+1 (destroyed ids are never
// reused, nor are ids recorded beside the ring as issued: see highWater),
// to the ring file at path and makes it primary. It first checks
// that mk opens the ring, so a ring never mixes master keys. Old versions
// stay, so old values still open. The lookup version stays: a ring that
// names none gets the primary it replaces, so deterministic values keep
// sealing as before (RotateLookup moves it).
func Rotate(path string, mk MasterKey) (*Status, error) {
	return RotateIf(path, mk, func(crypto.KeyInfo) bool { return true })
}

// RotateIf is Rotate when rotate, given the ring's primary version as it is
// in the file, returns true; otherwise it changes nothing and returns the
// ring's Status with Rotated false. The check and the write happen under
// the ring's lock (see lockRing), so any number of processes that run
// RotateIf with the same condition at once add one version between them:
// "primary older than 90 days" (keys rotate --if-older-than) or "primary
// still v3" (a sidecar that sealed its max_seals under v3).
func RotateIf(path string, mk MasterKey, rotate func(primary crypto.KeyInfo) bool, before ...BeforeWrite) (*Status, error) {
	rotated := false
	st, err := update(path, mk, "rotate", before, func(rf *ringFile) error {
		i := slices.IndexFunc(rf.Keys, func(w wrapped) bool { return w.ID == rf.Primary })
		if !rotate(crypto.KeyInfo{ID: rf.Primary, Created: timeOf(rf.Keys[i]), Primary: true}) {
			return errUnchanged
		}
		rotated = true
		next, err := crypto.NextID(max(rf.maxID(), rf.issued))
		if err != nil {
			return fmt.Errorf("%w: %w", err, ErrBadRing)
		}
		if err := rf.addKey(mk, next, time.Now()); err != nil {
			return err
		}
		if rf.Lookup == 0 {
			rf.Lookup = rf.Primary
		}
		rf.Primary = next
		return nil
	})
	if st != nil {
		st.Rotated = rotated
	}
	return st, err
}

// ReadStatus reads and checks the ring file at path without a master key
// and describes it: ring id, versions, primary, creation times. Without the
// master key it cannot check the metadata MAC; Verify does.
func ReadStatus(path string) (*Status, error) {
	data, rf, err := readRing(path)
	if err != nil {
		return nil, fmt.Errorf("read key ring status: %w", err)
	}
	return rf.status(path, data)
}

// readRing reads and validates the ring file.
func readRing(path string) ([]byte, *ringFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read key ring %q: %w", path, err)
	}
	rf, err := parseRing(data)
	if err != nil {
		return nil, nil, fmt.Errorf("key ring %q: %w", path, err)
	}
	return data, rf, nil
}

func parseRing(data []byte) (*ringFile, error) {
	var rf ringFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rf); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRing, err)
	}
	switch rf.Format {
	case Format:
		if rf.MAC == "" {
			return nil, fmt.Errorf("%w: no metadata mac", ErrBadRing)
		}
	case FormatV1:
		if rf.MAC != "" || rf.MinVersion != 0 || len(rf.Retired) > 0 || len(rf.Destroyed) > 0 || rf.Lookup != 0 {
			return nil, fmt.Errorf("%w: %s ring with %s fields", ErrBadRing, FormatV1, Format)
		}
	default:
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBadRing, rf.Format, Format)
	}
	if rf.RingID == "" {
		return nil, fmt.Errorf("%w: empty ring_id", ErrBadRing)
	}
	if len(rf.Keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrBadRing)
	}
	seen := make(map[uint32]bool, len(rf.Keys))
	for _, w := range rf.Keys {
		if w.ID == 0 {
			return nil, fmt.Errorf("%w: key id 0 (ids start at 1)", ErrBadRing)
		}
		if seen[w.ID] {
			return nil, fmt.Errorf("%w: duplicate key v%d", ErrBadRing, w.ID)
		}
		seen[w.ID] = true
		if _, err := time.Parse(time.RFC3339, w.Created); err != nil {
			return nil, fmt.Errorf("%w: key v%d: bad created time", ErrBadRing, w.ID)
		}
	}
	if err := rf.Check(seen); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRing, err)
	}
	return &rf, nil
}

// maxID is the highest version id rf has issued (crypto.HighestID).
func (rf *ringFile) maxID() uint32 {
	return crypto.HighestID(&rf.RingVersions, rf.Keys, func(w wrapped) uint32 { return w.ID })
}

func (rf *ringFile) has(id uint32) bool {
	return slices.ContainsFunc(rf.Keys, func(w wrapped) bool { return w.ID == id })
}

// metadata is what the MAC covers.
func (rf *ringFile) metadata() crypto.RingMetadata {
	m := rf.Metadata(rf.Format, rf.RingID)
	for _, w := range rf.Keys {
		m.Keys = append(m.Keys, crypto.KeyMeta{ID: w.ID, Created: w.Created})
	}
	return m
}

// sign sets the metadata MAC (Format rings only).
func (rf *ringFile) sign(mk MasterKey) {
	rf.MAC = ""
	rf.MAC = base64.StdEncoding.EncodeToString(rf.metadata().MAC(mk.meta))
}

// verify checks the metadata MAC of a Format ring; FormatV1 rings have none.
func (rf *ringFile) verify(mk MasterKey) error {
	if rf.Format == FormatV1 {
		return nil
	}
	mac, err := base64.StdEncoding.DecodeString(rf.MAC)
	if err != nil {
		return fmt.Errorf("%w: metadata mac is not base64", ErrBadRing)
	}
	if err := rf.metadata().Verify(mk.meta, mac); err != nil {
		// Tell a wrong master key (the usual mistake) from an edited file.
		if i := slices.IndexFunc(rf.Keys, func(w wrapped) bool { return w.ID == rf.Primary }); i >= 0 {
			k, uerr := rf.unwrap(mk, rf.Keys[i])
			if uerr != nil {
				return uerr
			}
			clear(k)
		}
		return fmt.Errorf("%w: %w (edited outside fieldseal)", ErrBadRing, err)
	}
	return nil
}

func (rf *ringFile) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(rf, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (rf *ringFile) status(path string, data []byte) (*Status, error) {
	st := &Status{Path: path, Format: rf.Format, RingID: rf.RingID, Primary: rf.Primary,
		MinVersion: rf.MinVersion, Lookup: rf.LookupVersion(), Revision: revision(data), Size: len(data)}
	for _, w := range rf.Keys {
		created, _ := time.Parse(time.RFC3339, w.Created) // checked by parseRing or made by addKey
		st.Keys = append(st.Keys, crypto.KeyInfo{ID: w.ID, Created: created, Primary: w.ID == rf.Primary,
			Retired: slices.Contains(rf.Retired, w.ID), Destroyed: w.ID < rf.MinVersion, Lookup: w.ID == st.Lookup})
	}
	for _, id := range rf.Destroyed {
		st.Keys = append(st.Keys, crypto.KeyInfo{ID: id, Destroyed: true, Retired: slices.Contains(rf.Retired, id)})
	}
	slices.SortFunc(st.Keys, func(a, b crypto.KeyInfo) int { return int(int64(a.ID) - int64(b.ID)) })
	return st, nil
}

// wrapAAD binds a wrapped key to its ring format, ring and version. The
// format is part of it, so a v2 ring cannot be passed off as a v1 ring
// (which has no MAC) without every key failing to unwrap.
func (rf *ringFile) wrapAAD(id uint32) []byte {
	aad := append([]byte(rf.Format), 0)
	aad = append(aad, rf.RingID...)
	aad = append(aad, 0)
	return strconv.AppendUint(aad, uint64(id), 10)
}

// addKey makes a new random data key, wraps it and appends it.
func (rf *ringFile) addKey(mk MasterKey, id uint32, now time.Time) error {
	dek := make([]byte, crypto.DataKeySize)
	rand.Read(dek)
	defer clear(dek)
	rf.Keys = append(rf.Keys, wrapped{
		ID:      id,
		Created: now.UTC().Truncate(time.Second).Format(time.RFC3339),
		Wrapped: rf.wrap(mk, id, dek),
	})
	return nil
}

// wrap seals dek for version id of this ring under mk.
func (rf *ringFile) wrap(mk MasterKey, id uint32, dek []byte) string {
	nonce := make([]byte, mk.wrap.NonceSize())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(mk.wrap.Seal(nonce, nonce, dek, rf.wrapAAD(id)))
}

// unwrap returns the plaintext data key of w; the caller clears it.
func (rf *ringFile) unwrap(mk MasterKey, w wrapped) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(w.Wrapped)
	if err != nil || len(b) < mk.wrap.NonceSize()+mk.wrap.Overhead() {
		return nil, fmt.Errorf("unwrap data key v%d: %w: malformed wrapped key", w.ID, ErrBadRing)
	}
	n := mk.wrap.NonceSize()
	dek, err := mk.wrap.Open(nil, b[:n], b[n:], rf.wrapAAD(w.ID))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key v%d: %w", w.ID, ErrWrongMasterKey)
	}
	if len(dek) != crypto.DataKeySize {
		clear(dek)
		return nil, fmt.Errorf("unwrap data key v%d: %w: %d-byte key", w.ID, ErrBadRing, len(dek))
	}
	return dek, nil
}

// update is the read-check-modify-write of every command that changes a
// ring, under the ring's lock (lockRing): it verifies the MAC and that mk unwraps every key (so a ring never
// mixes master keys and a command never builds on a corrupted version),
// upgrades a FormatV1 ring (re-wrapping its keys for the v2 binding),
// applies change, signs and replaces the file if it did not move meanwhile.
func update(path string, mk MasterKey, what string, before []BeforeWrite, change func(rf *ringFile) error) (*Status, error) {
	return updateWith(path, mk, mk, what, before, change)
}

// updateWith is update that writes the result under master key out (which
// differs from mk only for Rewrap): every key is wrapped again with out.
// The hooks before run after the new ring is built, before it is written.
func updateWith(path string, mk, out MasterKey, what string, before []BeforeWrite, change func(rf *ringFile) error) (*Status, error) {
	if mk.wrap == nil {
		return nil, fmt.Errorf("%s key ring %q: %w", what, path, ErrNoMasterKey)
	}
	release, err := lockRing(path)
	if err != nil {
		return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
	}
	defer release()
	data, rf, err := readRing(path)
	if err != nil {
		return nil, fmt.Errorf("%s key ring: %w", what, err)
	}
	if err := rf.verify(mk); err != nil {
		return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
	}
	deks := make(map[uint32][]byte, len(rf.Keys))
	defer func() {
		for _, k := range deks {
			clear(k)
		}
	}()
	for _, w := range rf.Keys {
		k, err := rf.unwrap(mk, w)
		if err != nil {
			return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
		}
		deks[w.ID] = k
	}
	unchanged, err := parseRing(data) // the file as read, for a change that changes nothing
	if err != nil {
		return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
	}
	if rf.issued, err = readHighWater(path, rf.RingID); err != nil {
		return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
	}
	rewrapAll := rf.Format == FormatV1 || out.wrap != mk.wrap
	rf.Format = Format
	if rewrapAll {
		for i, w := range rf.Keys {
			rf.Keys[i].Wrapped = rf.wrap(out, w.ID, deks[w.ID])
		}
	}
	if err := change(rf); errors.Is(err, errUnchanged) {
		return unchanged.status(path, data)
	} else if err != nil {
		return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
	}
	rf.sign(out)
	next, err := rf.marshal()
	if err != nil {
		return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
	}
	// Under the lock only a writer that does not take it (an edit by hand,
	// an older release) can have moved the file: refuse then.
	if again, err := os.ReadFile(path); err != nil || !bytes.Equal(again, data) {
		return nil, fmt.Errorf("%s key ring %q: %w; run it again", what, path, ErrRingChanged)
	}
	if len(before) > 0 {
		prev, err := unchanged.status(path, data)
		if err != nil {
			return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
		}
		st, err := rf.status(path, next)
		if err != nil {
			return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
		}
		if err := runBefore(before, prev, st); err != nil {
			return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
		}
	}
	// The record first: a ring never holds an id above it.
	if m := rf.maxID(); m > rf.issued {
		if err := writeHighWater(path, rf.RingID, m); err != nil {
			return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
		}
	}
	if err := writeFile(path, next, true); err != nil {
		return nil, fmt.Errorf("%s key ring %q: %w", what, path, err)
	}
	return rf.status(path, next)
}

// revision is the ring's change token: the SHA-256 of the file bytes.
func revision(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// writeFile writes data to path atomically with mode 0600
// (internal/atomicfile): replacing the file there, or, when replace is
// false, failing with ErrRingExists if path exists.
func writeFile(path string, data []byte, replace bool) error {
	write := atomicfile.Create
	if replace {
		write = atomicfile.Replace
	}
	err := write(path, data)
	switch {
	case errors.Is(err, fs.ErrExist):
		return ErrRingExists
	case err != nil:
		return fmt.Errorf("write ring file: %w", err)
	}
	return nil
}

// timeOf is w's creation time (checked by parseRing or made by addKey).
func timeOf(w wrapped) time.Time {
	t, _ := time.Parse(time.RFC3339, w.Created)
	return t
}
