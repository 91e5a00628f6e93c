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
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
)

// Format is the value of the ring file's "format" field.
const Format = "fieldseal-local-ring/v1"

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
)

// ringFile is the JSON form of the ring file.
type ringFile struct {
	Format  string    `json:"format"`
	RingID  string    `json:"ring_id"`
	Primary uint32    `json:"primary"`
	Keys    []wrapped `json:"keys"`
}

type wrapped struct {
	ID      uint32 `json:"id"`
	Created string `json:"created"` // RFC 3339
	Wrapped string `json:"wrapped"` // std base64 of nonce | ciphertext | tag
}

// Status describes a ring file without key material.
type Status struct {
	Path     string           `json:"path"`
	RingID   string           `json:"ring_id"`
	Primary  uint32           `json:"primary"`
	Keys     []crypto.KeyInfo `json:"keys"`
	Revision string           `json:"revision"` // SHA-256 of the file, hex
}

// Init creates a ring file at path with one new data key (version 1,
// primary) wrapped by mk. It refuses to overwrite an existing file.
func Init(path string, mk MasterKey) (*Status, error) {
	if mk.wrap == nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, ErrNoMasterKey)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("init key ring %q: %w; use rotate to add a key", path, ErrRingExists)
	}
	idBytes := make([]byte, 16)
	rand.Read(idBytes)
	rf := &ringFile{Format: Format, RingID: base64.RawURLEncoding.EncodeToString(idBytes), Primary: 1}
	if err := rf.addKey(mk, 1, time.Now()); err != nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, err)
	}
	data, err := rf.marshal()
	if err != nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, err)
	}
	if err := writeFile(path, data, false); err != nil {
		return nil, fmt.Errorf("init key ring %q: %w", path, err)
	}
	return rf.status(path, data)
}

// Rotate adds a new data key, version max+1, to the ring file at path and
// makes it primary. It first checks that mk unwraps every existing key, so a
// ring never mixes master keys. Old versions stay, so old values still open.
func Rotate(path string, mk MasterKey) (*Status, error) {
	if mk.wrap == nil {
		return nil, fmt.Errorf("rotate key ring %q: %w", path, ErrNoMasterKey)
	}
	data, rf, err := readRing(path)
	if err != nil {
		return nil, fmt.Errorf("rotate key ring: %w", err)
	}
	var maxID uint32
	for _, w := range rf.Keys {
		k, err := rf.unwrap(mk, w)
		if err != nil {
			return nil, fmt.Errorf("rotate key ring %q: %w", path, err)
		}
		clear(k)
		maxID = max(maxID, w.ID)
	}
	if maxID == math.MaxUint32 {
		return nil, fmt.Errorf("rotate key ring %q: key ids exhausted: %w", path, ErrBadRing)
	}
	if err := rf.addKey(mk, maxID+1, time.Now()); err != nil {
		return nil, fmt.Errorf("rotate key ring %q: %w", path, err)
	}
	rf.Primary = maxID + 1
	next, err := rf.marshal()
	if err != nil {
		return nil, fmt.Errorf("rotate key ring %q: %w", path, err)
	}
	// Narrow the window for a concurrent writer: refuse if the file moved on.
	if again, err := os.ReadFile(path); err != nil || !bytes.Equal(again, data) {
		return nil, fmt.Errorf("rotate key ring %q: %w; run rotate again", path, ErrRingChanged)
	}
	if err := writeFile(path, next, true); err != nil {
		return nil, fmt.Errorf("rotate key ring %q: %w", path, err)
	}
	return rf.status(path, next)
}

// ReadStatus reads and checks the ring file at path without a master key
// and describes it: ring id, versions, primary, creation times.
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
	if rf.Format != Format {
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
	if !seen[rf.Primary] {
		return nil, fmt.Errorf("%w: primary v%d is not among the keys", ErrBadRing, rf.Primary)
	}
	return &rf, nil
}

func (rf *ringFile) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(rf, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (rf *ringFile) status(path string, data []byte) (*Status, error) {
	st := &Status{Path: path, RingID: rf.RingID, Primary: rf.Primary, Revision: revision(data)}
	for _, w := range rf.Keys {
		created, _ := time.Parse(time.RFC3339, w.Created) // checked by parseRing or made by addKey
		st.Keys = append(st.Keys, crypto.KeyInfo{ID: w.ID, Created: created, Primary: w.ID == rf.Primary})
	}
	return st, nil
}

// wrapAAD binds a wrapped key to its ring and version.
func (rf *ringFile) wrapAAD(id uint32) []byte {
	aad := append([]byte(Format), 0)
	aad = append(aad, rf.RingID...)
	aad = append(aad, 0)
	return strconv.AppendUint(aad, uint64(id), 10)
}

// addKey makes a new random data key, wraps it and appends it.
func (rf *ringFile) addKey(mk MasterKey, id uint32, now time.Time) error {
	dek := make([]byte, crypto.DataKeySize)
	rand.Read(dek)
	defer clear(dek)
	nonce := make([]byte, mk.wrap.NonceSize())
	rand.Read(nonce)
	sealed := mk.wrap.Seal(nonce, nonce, dek, rf.wrapAAD(id))
	rf.Keys = append(rf.Keys, wrapped{
		ID:      id,
		Created: now.UTC().Truncate(time.Second).Format(time.RFC3339),
		Wrapped: base64.StdEncoding.EncodeToString(sealed),
	})
	return nil
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

// revision is the ring's change token: the SHA-256 of the file bytes.
func revision(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// writeFile writes data to path atomically with mode 0600: a temporary file
// in the same directory is written, synced and then renamed over path (or,
// when replace is false, hard-linked to path, which fails if path exists).
func writeFile(path string, data []byte, replace bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".ring-*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name) // after a rename or link this removes nothing or the extra name
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("set file mode: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if replace {
		err = os.Rename(name, path)
	} else {
		// A link never clobbers: it is the atomic "create if absent".
		err = os.Link(name, path)
		if errors.Is(err, fs.ErrExist) {
			return ErrRingExists
		}
	}
	if err != nil {
		return fmt.Errorf("install ring file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; best effort on platforms without directory sync
		d.Close()
	}
	return nil
}
